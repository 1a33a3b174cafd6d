"""One run at a time, really (issue 19), with real `manage.py` processes against moto's standalone server
(tests/project.py): SIGTERM/SIGINT mid-wait, a frozen run whose lease was taken over by a host whose clock
is hours ahead, `branch_devdb extend` during a refresh, the control database dropped mid-run."""

import json
import signal
import threading
import time
from datetime import datetime, timedelta

import pytest

from tests.project import DAY1, DAY2, RECORD, devdb_project  # noqa: F401 (fixture)
from tests.test_monitoring import SECRET, monitor  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

CONTROLS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


def shifted(stamp, **delta):
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def project_for(devdb_project, control, request, **settings):
    if control == "mysql":
        request.getfixturevalue("mariadb")
    return devdb_project(control=control, **settings)


class Run:
    """A `manage.py` process whose stderr is read as it comes (so a test can wait for a line)."""

    def __init__(self, proc):
        self.proc, self.lines, self.out = proc, [], ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} (exit {self.proc.poll()}):\n" + "\n".join(self.lines))

    def finish(self, timeout=60):
        self.out = self.proc.stdout.read()
        self.proc.wait(timeout)
        self.reader.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode

    def errors(self):
        return [line for line in self.lines if ": error: " in line]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()


def dev_clusters(project):
    return sorted(c for c in project.clusters() if c.startswith("dev-"))


# --- 2. SIGTERM / SIGINT --------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_wait_is_one_line_releases_the_lease_and_the_next_run_resumes_at_once(devdb_project, sig):
    project = devdb_project()
    project.refresh(DAY1)
    # Day 2's run connects its clone, then sits in the grace wait (holding the lease) before deleting day 1's.
    run = Run(project.popen("refresh_devdb", now=DAY2, CLEAN_GRACE=30))
    try:
        run.wait_for("grace")
        assert project.leases() and project.leases()[0]["pid"] == run.proc.pid
        run.proc.send_signal(sig)
        code = run.finish(timeout=30)
    finally:
        run.kill() if run.proc.poll() is None else None
    assert code == 1
    assert not any("Traceback" in line for line in run.lines), "\n".join(run.lines)
    assert run.errors() == [f"refresh_devdb: error: dev: interrupted by {sig.name}: stopped before its next "
                            "change; the lease is released, the next run resumes"]
    assert project.leases() == []  # released: not left for LOCK_EXPIRY
    assert dev_clusters(project) == ["dev-20261122", "dev-20261123"]  # nothing deleted after the signal

    # The next run (from any host: the lease is gone) takes over at once and finishes the morning.
    started = time.monotonic()
    again = project.refresh(shifted(DAY2, minutes=1), check=False)
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 60
    assert "deleted dev-20261122" in again.stdout
    assert dev_clusters(project) == ["dev-20261123"]
    records = project.records()
    assert (records["dev-20261123"]["state"], records["dev-20261122"]["state"]) == ("connected", "deleted")
    assert project.leases() == []


# --- 1. a frozen run, a host hours ahead ------------------------------------------------------------


@pytest.mark.parametrize("control", CONTROLS)
def test_a_frozen_run_whose_lease_was_taken_over_stops_before_its_next_change(devdb_project, control, request):
    project = project_for(devdb_project, control, request)
    project.refresh(DAY1)
    first = Run(project.popen("refresh_devdb", now=DAY2, CLEAN_GRACE=300, POLL_INITIAL=0.5, POLL_MAX=1))
    try:
        first.wait_for("grace")
        # A host whose clock is 2h05 ahead: the lease (7200 s) is only seconds old by the control
        # database's clock, so it is not taken over.
        ahead = project.refresh(shifted(DAY2, hours=2, minutes=5), check=False)
        assert ahead.returncode == 3, ahead.stderr
        assert "is locked by another run" in ahead.stderr
        assert dev_clusters(project) == ["dev-20261122", "dev-20261123"]

        # The first run freezes (its link to the control database, say) past its expiry...
        first.proc.send_signal(signal.SIGSTOP)
        project.execute("UPDATE devdb_targetlease SET expires_at = '2000-01-01 00:00:00'")
        # ...and a run elsewhere takes the lease over and finishes the morning (grace 0).
        other = project.refresh(shifted(DAY2, hours=2, minutes=6), check=False, CLEAN_GRACE=0)
        assert other.returncode == 0, other.stderr
        assert "deleted dev-20261122" in other.stdout
        # Meanwhile another morning's clone: the frozen run must not touch what the other run does now.
        lease_after = project.leases()
        assert lease_after == []
        first.proc.send_signal(signal.SIGCONT)
        code = first.finish(timeout=60)
    finally:
        if first.proc.poll() is None:
            first.proc.send_signal(signal.SIGCONT)
            first.kill()
    assert code == 3, "\n".join(first.lines)
    [error] = first.errors()
    assert "this run lost its lease" in error and "stopped before its next change" in error
    assert not any("Traceback" in line for line in first.lines)
    # It made no change after it woke: nothing deleted by it, the other run's end state stands.
    assert "deleted" not in first.out
    assert dev_clusters(project) == ["dev-20261123"]
    assert project.records()["dev-20261123"]["state"] == "connected"
    assert project.records()["dev-20261122"]["state"] == "deleted"


# --- 3. extend during a refresh -----------------------------------------------------------------------


def test_extend_during_a_refresh_wins(devdb_project):
    project = devdb_project()
    project.refresh(DAY1)
    made = json.loads(project.manage("branch_devdb", "create", "feat", "--ttl", "2h", "--json",
                                     now="2026-11-22T12:00:00Z").stdout)
    assert made["expires_at"] == "2026-11-22T14:00:00Z"
    # The next morning's refresh reads feat as expired at its start, then waits out its grace...
    refresh = Run(project.popen("refresh_devdb", now=DAY2, CLEAN_GRACE=30))
    try:
        refresh.wait_for("grace")
        # ...while someone extends feat.
        extended = project.manage("branch_devdb", "extend", "feat", "--ttl", "3d", "--json", now=shifted(DAY2, minutes=1),
                                  check=False)
        assert extended.returncode == 0, extended.stderr
        new_expiry = json.loads(extended.stdout)["expires_at"]
        assert new_expiry == "2026-11-26T05:01:00Z"
        code = refresh.finish(timeout=120)
    finally:
        refresh.kill() if refresh.proc.poll() is None else None
    assert code == 0, "\n".join(refresh.lines)
    assert "dev-feat" in project.clusters()  # not deleted after it was extended
    assert f"feat.{RECORD}" in {rs["Name"].rstrip(".") for rs in project.route53.list_resource_record_sets(
        HostedZoneId=project.zone_id)["ResourceRecordSets"]}
    record = project.records()["dev-feat"]
    assert record["state"] == "connected"
    assert str(record["expires_at"]).replace(" ", "T")[:19] == new_expiry[:19]  # the old expiry not written back
    assert any("branch feat was extended" in line for line in refresh.lines)


# --- 4. the control database lost mid-run -----------------------------------------------------------


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_database_dropped_mid_run_is_one_line_a_fail_ping_and_a_rerun_converges(devdb_project, control,
                                                                                      request, monitor):
    project = project_for(devdb_project, control, request)
    project.refresh(DAY1)
    run = Run(project.popen("refresh_devdb", now=DAY2, CLEAN_GRACE=300, POLL_INITIAL=0.5, POLL_MAX=1, PING_URL=monitor.url))
    try:
        run.wait_for("grace")
        if control == "mysql":
            database = project.mysql_db
            project.drop()
            project.mysql_db = database
        else:
            project.sqlite_path.unlink()
        code = run.finish(timeout=90)
    finally:
        run.kill() if run.proc.poll() is None else None
    assert code == 1, "\n".join(run.lines)
    assert not any("Traceback" in line for line in run.lines)
    [error] = run.errors()
    where = "host 127.0.0.1" if control == "mysql" else f"file {project.sqlite_path}"
    assert error.startswith(f"refresh_devdb: error: dev: control database 'devdb' ({where}) was lost mid-run ("), error
    assert "FAILED: control database 'devdb'" in run.out
    paths = [path for _, path, _ in monitor.requests]
    assert paths == [f"/ping/{SECRET}/start", f"/ping/{SECRET}/fail"], paths
    assert "control database 'devdb'" in monitor.requests[-1][2]
    assert dev_clusters(project) == ["dev-20261122", "dev-20261123"]  # it stopped before deleting

    # The control database is back (empty, migrated again): a re-run converges.
    if control == "mysql":
        from tests.project import _mysql_connect

        conn = _mysql_connect(project.mysql)
        conn.cursor().execute(f"CREATE DATABASE `{project.mysql_db}` CHARACTER SET utf8mb4")
        conn.close()
    project.manage("migrate", "--database", "devdb", "--verbosity", "0")
    again = project.refresh(shifted(DAY2, minutes=1), check=False)
    assert again.returncode == 0, again.stderr
    assert dev_clusters(project) == ["dev-20261123"]
    assert project.records()["dev-20261123"]["state"] == "connected"
    assert project.record_value().rstrip(".") == project.clusters()["dev-20261123"]["Endpoint"]
    assert project.leases() == []
