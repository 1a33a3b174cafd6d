"""Monitoring: `status_devdb --check` for Nagios/Kubernetes-style probes, and PING_URL around a refresh.

The pings go to a real HTTP server on 127.0.0.1 that records what it was sent.
"""

import io
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb import ping, probes
from devdb.models import CloneRecord

pytestmark = pytest.mark.django_db(databases="__all__")
SECRET = "0f1e2d3c-4b5a-6978-secret"


@pytest.fixture
def fake_time(monkeypatch, clock):
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    return clock


@pytest.fixture
def monitor():
    """A ping endpoint on 127.0.0.1: `requests` is [(method, path, body)]; `status` is what it answers."""
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            requests.append((self.command, self.path, self.rfile.read(length).decode()))
            self.send_response(server.status)
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.status, server.requests = 200, requests
    server.url = f"http://127.0.0.1:{server.server_address[1]}/ping/{SECRET}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def manage(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def failing_writer(monkeypatch):
    def failed(cluster, writer_id):
        raise probes.ProbeError("AWS reports cluster available, writer failed")
    monkeypatch.setattr(probes, "status_ready", failed)


# --- PING_URL ------------------------------------------------------------------------------------


def test_a_refresh_pings_start_then_success(aws, devdb_settings, fake_time, monitor):
    devdb_settings["TARGETS"]["dev"]["PING_URL"] = monitor.url
    manage("refresh_devdb")
    assert monitor.requests == [("GET", f"/ping/{SECRET}/start", ""), ("GET", f"/ping/{SECRET}", "")]


def test_a_failed_refresh_pings_fail_with_the_error_line(aws, devdb_settings, fake_time, monitor, monkeypatch):
    devdb_settings["TARGETS"]["dev"]["PING_URL"] = monitor.url + "/"
    failing_writer(monkeypatch)
    with pytest.raises(CommandError):
        manage("refresh_devdb")
    assert [r[:2] for r in monitor.requests] == [("GET", f"/ping/{SECRET}/start"), ("POST", f"/ping/{SECRET}/fail")]
    assert monitor.requests[1][2] == "clone dev-20261122 aborted: AWS reports cluster available, writer failed"


def test_other_commands_and_dry_runs_do_not_ping(aws, devdb_settings, fake_time, monitor):
    devdb_settings["TARGETS"]["dev"]["PING_URL"] = monitor.url
    manage("refresh_devdb", "--dry-run")
    manage("clone_devdb")
    manage("connect_devdb")
    manage("status_devdb")
    assert monitor.requests == []


def test_a_ping_that_fails_never_fails_the_run_nor_shows_the_secret(aws, devdb_settings, fake_time, monitor, caplog):
    caplog.set_level(logging.INFO, logger="devdb")
    monitor.status = 500
    devdb_settings["TARGETS"]["dev"]["PING_URL"] = monitor.url
    manage("refresh_devdb")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "ping" in r.getMessage()]
    assert warnings == [
        f"[dev] ping start to http://127.0.0.1 failed (HTTP 500); the run goes on",
        f"[dev] ping success to http://127.0.0.1 failed (HTTP 500); the run goes on",
    ]
    assert SECRET not in caplog.text


def test_an_unreachable_or_silent_monitor_costs_at_most_the_timeout(aws, devdb_settings, fake_time, caplog, monkeypatch):
    import socket
    import time

    caplog.set_level(logging.INFO, logger="devdb")
    monkeypatch.setattr(ping, "TIMEOUT", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    port = silent.getsockname()[1]
    devdb_settings["TARGETS"]["dev"]["PING_URL"] = f"https://127.0.0.1:{port}/{SECRET}"
    started = time.monotonic()
    try:
        manage("refresh_devdb")
    finally:
        silent.close()
    assert time.monotonic() - started < 10
    assert "ping start to https://127.0.0.1 failed (timed out)" in caplog.text
    assert SECRET not in caplog.text
    devdb_settings["TARGETS"]["dev"]["PING_URL"] = f"http://127.0.0.1:{port}/{SECRET}"  # now closed: refused
    manage("refresh_devdb")
    assert "ping start to http://127.0.0.1 failed (Connection refused)" in caplog.text


def test_ping_addresses_keep_a_query_string():
    url = "https://cronitor.link/p/KEY/job?env=dev"
    assert ping.address(url, "start") == "https://cronitor.link/p/KEY/job/start?env=dev"
    assert ping.address(url, "fail") == "https://cronitor.link/p/KEY/job/fail?env=dev"
    assert ping.where(url) == "https://cronitor.link"


# --- status_devdb --check ------------------------------------------------------------------------


def check(*args):
    """(exit status, stdout lines) of status_devdb --check."""
    out = io.StringIO()
    try:
        call_command("status_devdb", "--check", *args, stdout=out, stderr=io.StringIO())
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, out.getvalue().strip().splitlines()


def test_check_passes_with_a_fresh_live_clone(aws, devdb_settings, fake_time):
    manage("refresh_devdb")
    fake_time.advance(hours=25)
    assert check() == (0, ["dev: ok, dev-20261122 is live"])


def test_check_fails_when_the_live_clone_is_older_than_max_age(aws, devdb_settings, fake_time):
    manage("refresh_devdb")
    fake_time.advance(hours=27)
    assert check() == (1, ["dev: the live clone dev-20261122 is 27h old (more than 26h)"])
    assert check("--max-age", "30") == (0, ["dev: ok, dev-20261122 is live"])


def test_check_fails_when_no_clone_is_live(aws, devdb_settings, fake_time):
    assert check() == (1, ["dev: db.dev.example.com points at no clone of this target (no record)"])


def test_check_fails_when_the_newest_clone_failed(aws, devdb_settings, fake_time, monkeypatch):
    manage("refresh_devdb")
    fake_time.advance(days=1)
    failing_writer(monkeypatch)
    with pytest.raises(CommandError):
        manage("refresh_devdb")
    assert CloneRecord.objects.get(cluster_id="dev-20261123").state == "deleted"
    assert check() == (1, ["dev: the newest clone dev-20261123 failed: AWS reports cluster available, writer failed"])


def test_check_as_json_lists_the_problems(aws, devdb_settings, fake_time):
    import json

    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("status_devdb", "--check", "--json", stdout=out, stderr=io.StringIO())
    assert failed.value.returncode == 1
    assert json.loads(out.getvalue())["problems"] == ["dev: db.dev.example.com points at no clone of this target (no record)"]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_max_age_must_be_a_positive_number_of_hours(aws, devdb_settings, value):
    with pytest.raises(CommandError, match="positive number of hours"):
        call_command("status_devdb", "--check", "--max-age", value)
