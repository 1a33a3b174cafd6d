"""One run per target: devdb.locks.Lease, alone and between real `manage.py refresh_devdb` processes."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from devdb.errors import Locked
from devdb.locks import Lease, pid_alive
from devdb.models import TargetLease
from tests.project import DAY1, DAY2, devdb_project  # noqa: F401 (fixture)

T0 = datetime(2026, 11, 22, 5, 0, 0, tzinfo=timezone.utc)
HOST = socket.gethostname()


class Clock:
    def __init__(self, moment=T0):
        self.moment = moment

    def __call__(self):
        return self.moment

    def advance(self, seconds):
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def dead_pid():
    """The pid of a process that has finished (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def row(target="dev"):
    return TargetLease.objects.using("devdb").filter(target=target).first()


# --- the Lease itself ------------------------------------------------------------------------------

@pytest.mark.django_db(databases="__all__")
class TestLease:
    def test_acquire_writes_who_holds_it(self):
        clock = Clock()
        lease = Lease("dev", expiry=600, now=clock).acquire()
        held = row()
        assert (held.host, held.pid, held.token) == (HOST, os.getpid(), lease.token)
        assert held.acquired_at == T0
        assert held.expires_at == T0 + timedelta(seconds=600)
        assert lease.token_held

    def test_second_acquire_raises_locked_naming_host_pid_since(self, live_pid):
        Lease("dev", now=Clock()).acquire()
        other = Lease("dev", pid=live_pid, now=Clock(T0 + timedelta(seconds=30)))
        with pytest.raises(Locked) as info:
            other.acquire()
        message = str(info.value)
        assert "\n" not in message
        assert f"host {HOST} pid {os.getpid()} since 2026-11-22T05:00:00Z" in message
        assert "'dev'" in message
        assert info.value.exit_code == 3
        assert not other.token_held
        assert row().pid == os.getpid()  # untouched

    def test_same_process_cannot_take_it_twice(self):
        Lease("dev", now=Clock()).acquire()
        with pytest.raises(Locked):
            Lease("dev", now=Clock()).acquire()

    def test_release_lets_the_next_run_in(self, live_pid):
        first = Lease("dev", now=Clock()).acquire()
        first.release()
        assert row() is None and not first.token_held
        second = Lease("dev", pid=live_pid, now=Clock()).acquire()
        assert row().token == second.token

    def test_context_manager_releases_even_on_error(self):
        with pytest.raises(RuntimeError):
            with Lease("dev", now=Clock()):
                assert row() is not None
                raise RuntimeError("boom")
        assert row() is None

    def test_targets_are_independent(self):
        Lease("dev", now=Clock()).acquire()
        Lease("qa", now=Clock()).acquire()
        assert TargetLease.objects.using("devdb").count() == 2

    def test_taken_over_at_once_when_the_same_host_holder_is_gone(self, dead_pid):
        clock = Clock()
        crashed = Lease("dev", expiry=7200, pid=dead_pid, now=clock).acquire()
        clock.advance(1)  # long before expiry
        mine = Lease("dev", expiry=7200, now=clock).acquire()
        held = row()
        assert (held.pid, held.token, held.acquired_at) == (os.getpid(), mine.token, T0 + timedelta(seconds=1))
        # The old holder's late release or renew cannot touch the new holder's lease.
        crashed.release()
        crashed.renew()
        assert row().token == mine.token and row().expires_at == T0 + timedelta(seconds=7201)

    def test_live_same_host_holder_is_not_taken_over(self, live_pid):
        Lease("dev", pid=live_pid, now=Clock()).acquire()
        with pytest.raises(Locked, match=rf"host {re.escape(HOST)} pid {live_pid} since 2026-11-22T05:00:00Z"):
            Lease("dev", now=Clock(T0 + timedelta(seconds=10))).acquire()

    def test_other_host_holder_is_not_taken_over_before_expiry(self, dead_pid):
        # A pid on another host means nothing here, even one that is not alive on this host.
        Lease("dev", expiry=60, host="worker-2", pid=dead_pid, now=Clock()).acquire()
        with pytest.raises(Locked, match=r"host worker-2 pid \d+ since 2026-11-22T05:00:00Z \(expires 2026-11-22T05:01:00Z\)"):
            Lease("dev", now=Clock(T0 + timedelta(seconds=59))).acquire()
        assert row().host == "worker-2"

    def test_taken_over_by_anyone_after_expiry(self, live_pid):
        Lease("dev", expiry=60, host="worker-2", now=Clock()).acquire()
        mine = Lease("dev", now=Clock(T0 + timedelta(seconds=60))).acquire()
        assert row().token == mine.token and row().host == HOST
        # ... also a live holder on this host once it stopped renewing
        mine.release()
        Lease("dev", expiry=60, pid=live_pid, now=Clock()).acquire()
        late = Lease("dev", now=Clock(T0 + timedelta(seconds=61))).acquire()
        assert row().token == late.token

    def test_renew_extends_the_expiry(self):
        clock = Clock()
        lease = Lease("dev", expiry=60, now=clock).acquire()
        clock.advance(50)
        lease.renew()
        assert row().expires_at == T0 + timedelta(seconds=110)
        assert row().acquired_at == T0
        # Renewed, it is not expired at the old expiry.
        with pytest.raises(Locked):
            Lease("dev", host="worker-2", now=Clock(T0 + timedelta(seconds=61))).acquire()
        assert row().token == lease.token


# --- real processes --------------------------------------------------------------------------------

CONTROLS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]
LOCKED_LINE = re.compile(
    r"^refresh_devdb: error: dev: target 'dev' is locked by another run: host (?P<host>\S+) pid (?P<pid>\d+) "
    r"since (?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \(expires \S+\)$"
)


def day_one(devdb_project, control, request):
    if control == "mysql":
        request.getfixturevalue("mariadb")
    project = devdb_project(control=control)
    project.refresh(DAY1)
    return project


def as_text(value):
    return value if isinstance(value, str) else f"{value:%Y-%m-%d %H:%M:%S}"


@pytest.mark.e2e
@pytest.mark.parametrize("control", CONTROLS)
def test_concurrent_run_exits_3_and_a_killed_holder_is_taken_over(devdb_project, control, request):
    project = day_one(devdb_project, control, request)
    # The first run sits in the grace wait (holding the lease) after connecting day 2's clone.
    first = project.popen("refresh_devdb", now=DAY2, CLEAN_GRACE=8)
    try:
        held = project.wait_for_lease(first)
        assert held["host"] == HOST
        second = project.refresh(DAY2, check=False)
        assert first.poll() is None, "the first run ended: the two did not overlap"
        assert second.returncode == 3
        lines = second.stderr.splitlines()
        assert len(lines) == 1, second.stderr
        match = LOCKED_LINE.match(lines[0])
        assert match, lines[0]
        assert (match["host"], int(match["pid"])) == (HOST, first.pid)
        assert match["since"].replace("T", " ").rstrip("Z") == as_text(held["acquired_at"])[:19]
        assert "Traceback" not in second.stderr
        assert "FAILED: target 'dev' is locked" in second.stdout
        assert [r["pid"] for r in project.leases()] == [first.pid]  # the loser left the lease alone

        # Killed while holding the lease: the next run takes it over at once and finishes the job.
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert [r["pid"] for r in project.leases()] == [first.pid]
        started = time.monotonic()
        third = project.refresh(DAY2.replace("05:00", "05:01"), check=False)
        assert third.returncode == 0, third.stderr
        assert time.monotonic() - started < 30
        assert "deleted dev-20261122" in third.stdout
        assert project.leases() == []
        assert sorted(c for c in project.clusters() if c.startswith("dev-")) == ["dev-20261123"]
        assert project.records()["dev-20261123"]["state"] == "connected"
        assert project.records()["dev-20261122"]["state"] == "deleted"
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
        first.stdout.close()
        first.stderr.close()


@pytest.mark.e2e
@pytest.mark.parametrize("control", CONTROLS)
def test_lease_of_another_host_blocks_until_it_expires(devdb_project, control, request):
    if control == "mysql":
        request.getfixturevalue("mariadb")
    project = devdb_project(control=control)
    project.execute(
        "INSERT INTO devdb_targetlease (target, token, host, pid, acquired_at, expires_at) VALUES "
        "('dev', 'elsewhere', 'worker-2', 4242, '2026-11-22 04:30:00', '2026-11-22 06:30:00')"
    )
    blocked = project.refresh(DAY1, check=False)
    assert blocked.returncode == 3
    assert blocked.stderr.strip() == (
        "refresh_devdb: error: dev: target 'dev' is locked by another run: host worker-2 pid 4242 "
        "since 2026-11-22T04:30:00Z (expires 2026-11-22T06:30:00Z)"
    )
    assert not [c for c in project.clusters() if c.startswith("dev-")]  # nothing was changed
    assert project.records() == {}
    # Once it has expired, anyone takes it over.
    done = project.refresh("2026-11-22T06:31:00Z", check=False)
    assert done.returncode == 0, done.stderr
    assert project.leases() == []
    assert project.records()["dev-20261122"]["state"] == "connected"
