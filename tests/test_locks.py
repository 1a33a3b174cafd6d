"""One run per target: devdb.locks.Lease, alone and between real `manage.py refresh_devdb` processes."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from django.utils import timezone

from devdb.errors import LeaseLost, Locked
from devdb.locks import DbNow, Lease, pid_alive
from devdb.models import TargetLease
from tests.project import DAY1, DAY2, devdb_project  # noqa: F401 (fixture)

HOST = socket.gethostname()


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


def db_now():
    """The control database's clock, read the way the leases read it."""
    TargetLease.objects.using("devdb").create(target="~clock", token="-", host="-", pid=0, acquired_at=DbNow(),
                                              expires_at=DbNow())
    moment = TargetLease.objects.using("devdb").get(target="~clock").acquired_at
    TargetLease.objects.using("devdb").filter(target="~clock").delete()
    return moment


def expire(target="dev", seconds_ago=1):
    """Make the lease expire by the database's clock (as if its holder stopped renewing long ago)."""
    TargetLease.objects.using("devdb").filter(target=target).update(expires_at=DbNow(-seconds_ago))


@pytest.fixture
def host_clock_ahead(monkeypatch):
    """This process's clock 2 hours ahead of the database's (the issue: a host 2 h ahead took a fresh lease)."""
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() + timedelta(hours=2))


# --- the Lease itself ------------------------------------------------------------------------------

@pytest.mark.control_db
@pytest.mark.django_db(databases="__all__")
class TestLease:
    def test_acquire_writes_who_holds_it_on_the_databases_clock(self, host_clock_ahead):
        before = db_now()
        lease = Lease("dev", expiry=600).acquire()
        held = row()
        assert (held.host, held.pid, held.token) == (HOST, os.getpid(), lease.token)
        assert before <= held.acquired_at <= db_now()  # the database's time, not this host's (2 h ahead)
        assert held.expires_at - held.acquired_at == timedelta(seconds=600)
        assert lease.token_held

    def test_second_acquire_raises_locked_naming_host_pid_since(self, live_pid):
        Lease("dev").acquire()
        since = row().acquired_at
        other = Lease("dev", pid=live_pid)
        with pytest.raises(Locked) as info:
            other.acquire()
        message = str(info.value)
        assert "\n" not in message
        assert f"host {HOST} pid {os.getpid()} since {since:%Y-%m-%dT%H:%M:%SZ}" in message
        assert "'dev'" in message
        assert info.value.exit_code == 3
        assert not other.token_held
        assert row().pid == os.getpid()  # untouched

    def test_same_process_cannot_take_it_twice(self):
        Lease("dev").acquire()
        with pytest.raises(Locked):
            Lease("dev").acquire()

    def test_release_lets_the_next_run_in(self, live_pid):
        first = Lease("dev").acquire()
        first.release()
        assert row() is None and not first.token_held
        second = Lease("dev", pid=live_pid).acquire()
        assert row().token == second.token

    def test_context_manager_releases_even_on_error(self):
        with pytest.raises(RuntimeError):
            with Lease("dev"):
                assert row() is not None
                raise RuntimeError("boom")
        assert row() is None

    def test_targets_are_independent(self):
        Lease("dev").acquire()
        Lease("qa").acquire()
        assert TargetLease.objects.using("devdb").count() == 2

    def test_taken_over_at_once_when_the_same_host_holder_is_gone(self, dead_pid):
        crashed = Lease("dev", expiry=7200, pid=dead_pid).acquire()
        mine = Lease("dev", expiry=7200).acquire()  # long before expiry
        held = row()
        assert (held.pid, held.token) == (os.getpid(), mine.token)
        # The old holder's late release cannot touch the new holder's lease; its late renew finds it lost.
        crashed.release()
        with pytest.raises(LeaseLost, match=rf"this run lost its lease .*host {re.escape(HOST)} pid {os.getpid()} "
                                            r"holds it now.*stopped before its next change"):
            crashed.token_held = True
            crashed.renew()
        assert row().token == mine.token

    def test_live_same_host_holder_is_not_taken_over(self, live_pid):
        Lease("dev", pid=live_pid).acquire()
        with pytest.raises(Locked, match=rf"host {re.escape(HOST)} pid {live_pid} since "):
            Lease("dev").acquire()

    def test_other_host_holder_is_not_taken_over_before_expiry_even_by_a_host_hours_ahead(self, dead_pid,
                                                                                         host_clock_ahead):
        # A pid on another host means nothing here, even one that is not alive on this host; and this
        # host's clock (2 h ahead, past the holder's 60 s expiry) is not what decides.
        Lease("dev", expiry=60, host="worker-2", pid=dead_pid).acquire()
        with pytest.raises(Locked, match=r"host worker-2 pid \d+ since \S+ \(expires \S+\)"):
            Lease("dev").acquire()
        assert row().host == "worker-2"

    def test_taken_over_by_anyone_after_expiry_by_the_databases_clock(self, live_pid):
        Lease("dev", expiry=60, host="worker-2").acquire()
        expire()
        mine = Lease("dev").acquire()
        assert row().token == mine.token and row().host == HOST
        # ... also a live holder on this host once it stopped renewing
        mine.release()
        Lease("dev", expiry=60, pid=live_pid).acquire()
        expire()
        late = Lease("dev").acquire()
        assert row().token == late.token

    def test_renew_extends_the_expiry_from_the_databases_now(self, host_clock_ahead):
        lease = Lease("dev", expiry=60).acquire()
        expire()
        before = db_now()
        lease.renew()
        assert before + timedelta(seconds=59) <= row().expires_at <= db_now() + timedelta(seconds=60)
        # Renewed, it is not expired, and whoever renews first wins: the takeover's UPDATE checks expiry itself.
        with pytest.raises(Locked):
            Lease("dev", host="worker-2").acquire()
        assert row().token == lease.token

    def test_renew_after_a_takeover_raises_lease_lost_and_touches_nothing(self):
        frozen = Lease("dev", expiry=60).acquire()
        expire()  # its link froze past the expiry...
        thief = Lease("dev", host="worker-2").acquire()  # ...and another run took over
        with pytest.raises(LeaseLost) as info:
            frozen.renew()
        assert info.value.exit_code == 3
        assert "host worker-2" in str(info.value)
        assert not frozen.token_held
        assert row().token == thief.token
        frozen.release()
        assert row().token == thief.token


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
        "('dev', 'elsewhere', 'worker-2', 4242, '2026-11-22 04:30:00', '2099-11-22 06:30:00')"
    )
    blocked = project.refresh(DAY1, check=False)
    assert blocked.returncode == 3
    assert blocked.stderr.strip() == (
        "refresh_devdb: error: dev: target 'dev' is locked by another run: host worker-2 pid 4242 "
        "since 2026-11-22T04:30:00Z (expires 2099-11-22T06:30:00Z)"
    )
    assert not [c for c in project.clusters() if c.startswith("dev-")]  # nothing was changed
    assert project.records() == {}
    # Once it has expired (by the control database's clock, whatever the host's says), anyone takes it over.
    project.execute("UPDATE devdb_targetlease SET expires_at = '2000-01-01 00:00:00'")
    done = project.refresh("2026-11-22T06:31:00Z", check=False)
    assert done.returncode == 0, done.stderr
    assert project.leases() == []
    assert project.records()["dev-20261122"]["state"] == "connected"
