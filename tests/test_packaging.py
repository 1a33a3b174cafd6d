"""What `pip install` of this repository gets: the app's files, its own dependencies only, no build warnings."""

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_the_templates_without_warnings_and_leaves_the_example_projects_dependencies_to_extras(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    assert "is absent from the `packages` configuration" not in build.stdout + build.stderr
    assert "SetuptoolsDeprecationWarning" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("django_devdb-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    for template in ("_style.html", "change_form.html", "change_list.html"):
        assert f"devdb/templates/admin/devdb/clonerecord/{template}" in names
    assert "devdb/migrations/0001_initial.py" in names and not any("__pycache__" in n for n in names)
    requires = metadata.get_all("Requires-Dist")
    app = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith(("django-environ", "whitenoise")) for r in app), app
    assert 'django-environ>=0.11; extra == "example"' in requires and 'whitenoise>=6.6; extra == "example"' in requires
    assert metadata.get_all("Project-URL")


SETTINGS = '''
INSTALLED_APPS += ["devdb"]
DATABASES["devdb"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "devdb.sqlite3"}
DATABASE_ROUTERS = ["devdb.routers.DevdbRouter"]
DEVDB = {"TARGETS": {"dev": {"SOURCE_CLUSTER": "prod-aurora", "HOSTED_ZONE_ID": "Z0123456789ABC",
                             "RECORD_NAME": "db.dev.example.com", "INSTANCE_CLASS": "db.t4g.medium"}}}
'''


def test_a_built_wheel_installs_into_a_fresh_virtualenv_and_serves_a_new_project(tmp_path):
    """The README's install from a wheel: `pip wheel`, then `pip install dist/django_devdb-*.whl[mysql]` into a
    fresh virtualenv (pip's own index and cache), then a new `django-admin startproject` passes `manage.py check`
    with devdb installed, imported from the virtualenv, not from this checkout."""
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("django_devdb-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    # The sandbox ships as devdb_sandbox (extra `sandbox`), clock shim included; the repository's shim does not.
    assert {"devdb_sandbox/serve.py", "devdb_sandbox/days.py", "devdb_sandbox/clock/sitecustomize.py"} <= names
    assert not any(n.startswith(("sandbox/", "project/", "tests/")) for n in names)
    requires = metadata.get_all("Requires-Dist")
    assert 'moto[server]>=5.0; extra == "sandbox"' in requires and 'time-machine>=2.14; extra == "sandbox"' in requires

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")}
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[mysql]"], env=env,
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    python = str(venv / "bin" / "python")
    where = subprocess.run([python, "-c", "import devdb, MySQLdb; print(devdb.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    subprocess.run([str(venv / "bin" / "django-admin"), "startproject", "mysite"], cwd=tmp_path, env=env, check=True,
                   timeout=60)
    project = tmp_path / "mysite"
    with open(project / "mysite" / "settings.py", "a") as settings:
        settings.write(SETTINGS)
    check = subprocess.run([python, "manage.py", "check"], cwd=project, env=env, capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stderr
    assert "System check identified no issues" in check.stdout
