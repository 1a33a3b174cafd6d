"""`python -m devdb_sandbox serve`: a sandbox that stays up, and exports with which every command works against it."""

import os
import shlex
import signal
import subprocess
import sys
import time

from tests.project import ROOT, manage


def read_exports(process, deadline=90):
    """The export lines `serve` prints, as a dict, once it says it is ready."""
    exports, lines = {}, []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("export "):
            key, value = line[len("export "):].strip().split("=", 1)
            exports[key] = shlex.split(value)[0]
        if line.startswith("sandbox: ready"):
            return exports, "".join(lines)
    raise AssertionError("serve did not get ready:\n" + "".join(lines))


def test_serve_keeps_a_sandbox_up_that_every_command_and_the_admin_can_use(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "devdb_sandbox", "serve", "--example", "--dir", str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        exports, printed = read_exports(process)
        assert "unset AWS_PROFILE" in printed
        assert exports["DEVDB_DATABASE_URL"] == f"sqlite:///{tmp_path}/devdb.sqlite3"
        assert (tmp_path / "env.sh").read_text().count("export ") == len(exports)
        env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
        env.update(exports)
        # The example shop holds personal data to try masking on (mask_devdb --check, --dry-run).
        shop = manage("shell", "-v", "0", "-c", "from project.shop.models import Customer; print(Customer.objects.count())", env=env)
        assert shop.stdout.split() == ["3000"], shop.stderr
        for command in (["refresh_devdb"], ["status_devdb", "--check"], ["clean_devdb", "--dry-run"], ["sync_devdb"]):
            result = manage(*command, env=env)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
        admin = manage("shell", "-c",
                       "from django.contrib.auth import authenticate; from devdb.models import CloneRecord; "
                       "print(bool(authenticate(username='admin', password='sandbox')), CloneRecord.objects.count())",
                       env=env)
        assert admin.stdout.splitlines()[-1].split() == ["True", "1"], admin.stderr
        assert process.poll() is None  # still serving
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[0]
    assert process.returncode == 0, rest
    assert "sandbox: stopped." in rest


def test_the_hosted_zone_id_is_the_same_at_every_start_of_the_sandbox():
    from devdb_sandbox.moto_server import running, seed

    zones = []
    for _ in range(2):
        with running() as server:
            zones.append(str(seed(server.client("rds"), server.client("route53"), production=False)))
    assert zones[0] == zones[1] and zones[0].startswith("Z0") and len(zones[0]) == 21


def test_at_moves_a_commands_clock_to_a_time_or_an_offset_from_now():
    from datetime import datetime, timezone

    from devdb_sandbox.days import moment

    now = datetime(2026, 11, 22, 5, 0, tzinfo=timezone.utc)
    assert moment("+1d", now) == "2026-11-23T05:00:00Z" and moment("+90m", now) == "2026-11-22T06:30:00Z"
    assert moment("2026-11-23T05:00:00Z") == "2026-11-23T05:00:00Z"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DEVDB_SANDBOX_NOW")}
    env["PYTHONPATH"] = str(ROOT)
    shown = subprocess.run([sys.executable, "-m", "devdb_sandbox", "at", "2026-11-23T05:00:00Z", sys.executable, "-c",
                            "import datetime; print(datetime.datetime.now(datetime.timezone.utc).date())"],
                           env=env, capture_output=True, text=True, timeout=60)
    bad = subprocess.run([sys.executable, "-m", "devdb_sandbox", "at", "tomorrow", "true"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "WHEN must be an ISO-8601 UTC time or +1d / +12h / +90m (got 'tomorrow'" in bad.stderr
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "2026-11-23"
