"""What `pip install` of this repository gets: the app's files, its own dependencies only, no build warnings."""

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
