"""The README's quickstart, run as written: its fenced `sh` commands, in order, in a temporary folder.

A newcomer's path from `django-admin startproject` to a first refresh against the sandbox, and on to
tomorrow's refresh, a branch and the monitoring probe, with nothing from this repository but the
installed package: the project is the one startproject makes, the sandbox is `python -m devdb_sandbox
serve` (run in the background as the README's "first terminal"). Only the install lines (`python -m
venv`, `pip install`) are not run: the package is importable here already (this checkout, on PYTHONPATH).
"""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Quickstart: your project against the sandbox"
INSTALL = ("python -m venv", "pip install")

pytestmark = pytest.mark.e2e


def quickstart_blocks():
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return [block for block in re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)]


def without_install(block):
    return "\n".join(line for line in block.splitlines() if not line.startswith(INSTALL))


def newcomer_env():
    """A shell with the package installed and nothing of this repository's own settings or credentials."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEVDB_", "DJANGO_", "AWS_", "DATABASE_URL", "PYTHONPATH"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(ROOT)  # the package as installed: this checkout's devdb and devdb_sandbox
    return env


def test_the_readme_quickstart_runs_from_startproject_to_tomorrows_refresh(tmp_path):
    install, setup, serve, first, rest = quickstart_blocks()
    assert "pip install" in install and "django-admin startproject mysite" in setup
    assert serve.strip() == "python -m devdb_sandbox serve --dir .sandbox"
    env = newcomer_env()

    made = subprocess.run(["bash", "-e", "-c", without_install(install) + "\n" + setup], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "mysite"
    assert (project / "manage.py").is_file() and "from_environment" in (project / "mysite" / "settings.py").read_text()

    server = subprocess.Popen(["bash", "-c", serve], cwd=project, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        printed = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("sandbox: ready"):
                break
        assert printed and printed[-1].startswith("sandbox: ready"), "".join(printed)
        exported = (project / ".sandbox" / "env.sh").read_text()
        assert "DJANGO_SETTINGS_MODULE" not in exported and "DATABASE_URL" not in exported  # the project's own

        today = datetime.now(timezone.utc)
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", first + "\n" + rest], cwd=project, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert server.poll() is None  # still serving
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)

    out = result.stdout
    day1, day2 = f"dev-{today:%Y%m%d}", f"dev-{today + timedelta(days=1):%Y%m%d}"
    assert "System check identified no issues" in out
    assert re.search(rf"dev: \d+ change\(s\); created {day1}; {day1} is connected", out), out
    assert f"target dev: db.dev.example.com -> {day1}" in out
    assert re.search(rf"created {day2}; deleted {day1}; {day2} is connected", out), out  # tomorrow morning
    assert re.search(r"dev/feat: feat\.db\.dev\.example\.com:3307 connected \(dev-feat\), expires \S+, owner me", out), out
    assert f"dev: ok, {day2} is live" in out  # status_devdb --check
    assert "dev/feat: feat.db.dev.example.com:3307 deleted" in out
    assert "warning" not in result.stderr.lower(), result.stderr
