"""A run SIGKILLed at any moment and started again ends in the same state as an uninterrupted run.

Real `manage.py refresh_devdb` processes against moto's standalone server. Kill points are both
random moments (random.Random(seed) delays up to the measured run time) and the moments right after
each kind of AWS change is logged (the change is being made when the signal lands).
"""

import random
import re
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.project import RECORD, devdb_project, tags_of  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

SEED = 20261123
GRACE = 1  # seconds: the run sits in the grace wait for a while, widening the window before clean


def stamp(day):
    return day.strftime("%Y-%m-%dT%H:%M:%SZ")


def later(day):
    """When the run after a killed one starts. Each process's simulated clock starts at its own
    DEVDB_SANDBOX_NOW, so the re-run starts a minute on (as a retry would) to keep time moving forward."""
    return stamp(day + timedelta(minutes=1))


def run_killed(project, now, *, delay=None, after=None, extra=0.0, **env):
    """Start refresh_devdb and SIGKILL it `delay` seconds after start, or `extra` seconds after it
    logs a line matching `after`. Returns (returncode, stderr lines); -9 if the kill landed."""
    proc = project.popen("refresh_devdb", now=now, **env)
    lines, seen = [], threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if after and re.search(after, line):
                seen.set()
        seen.set()  # EOF: the process ended before the line showed up

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if after:
        assert seen.wait(60), "the run hung"
        if extra:
            time.sleep(extra)
    else:
        time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()  # reaped: its pid is gone, as after a real crash under cron/systemd
    reader.join(10)
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode, lines


def end_state(project, today):
    """The account and records, with today's clone named TODAY and state-since times left out."""

    def norm(value):
        return value.replace(today, "TODAY")

    clusters, instances = project.clusters(), project.instances()
    value = (project.record_value() or "").rstrip(".")
    pointed = [cid for cid, c in clusters.items() if c.get("Endpoint") == value]
    times = {tags_of(c).get("devdb:state-since") for cid, c in clusters.items() if cid == today}
    times |= {tags_of(i).get("devdb:state-since") for iid, i in instances.items() if iid.startswith(today)}
    assert len(times) == 1, f"cluster and instance disagree on state-since: {times}"
    records = project.records()
    return {
        "clusters": {
            norm(cid): (c["Status"], sorted((k, norm(v)) for k, v in tags_of(c).items() if k != "devdb:state-since"),
                        sorted(norm(m["DBInstanceIdentifier"]) for m in c["DBClusterMembers"]))
            for cid, c in clusters.items()
        },
        "instances": {
            norm(iid): (norm(i["DBClusterIdentifier"]), i["DBInstanceClass"],
                        sorted((k, norm(v)) for k, v in tags_of(i).items() if k != "devdb:state-since"))
            for iid, i in instances.items()
        },
        "record": [norm(p) for p in pointed],
        "open_records": sorted((norm(cid), r["state"]) for cid, r in records.items() if r["state"] != "deleted"),
        "leases": project.leases(),
    }


def assert_history(project, today, yesterday=None):
    """Today's record went created -> ready -> connected (however the runs were cut); yesterday's
    clone is recorded deleted, after having been aborted."""
    records = project.records()
    assert records[today]["state"] == "connected"
    assert records[today]["instance_id"] == f"{today}-1"
    assert records[today]["endpoint"] == project.clusters()[today]["Endpoint"]
    states = [to for _, to in project.events(today)]
    assert [s for s in dict.fromkeys(states)] == ["created", "ready", "connected"], project.query(
        "SELECT e.* FROM devdb_cloneevent e JOIN devdb_clonerecord r ON e.record_id = r.id "
        f"WHERE r.cluster_id = '{today}' ORDER BY e.at, e.id")
    if yesterday:
        assert records[yesterday]["state"] == "deleted"
        assert records[yesterday]["aborted_at"] and records[yesterday]["deleted_at"]
        assert [to for _, to in project.events(yesterday)][-2:] == ["aborted", "deleted"]
    assert all(r["state"] == "deleted" for cid, r in records.items() if cid != today)


EXPECTED_DAY = {
    "clusters": {
        "prod-aurora": ("available", [("team", "prod")], ["prod-aurora-1"]),
        "TODAY": ("available", sorted([
            ("devdb:managed-by", "django-devdb"), ("devdb:source", "prod-aurora"),
            ("devdb:state", "connected"), ("devdb:target", "dev"),
        ]), ["TODAY-1"]),
    },
    "instances": {
        "prod-aurora-1": ("prod-aurora", "db.r6g.large", []),
        "TODAY-1": ("TODAY", "db.t4g.medium", sorted([
            ("devdb:managed-by", "django-devdb"), ("devdb:source", "prod-aurora"),
            ("devdb:state", "connected"), ("devdb:target", "dev"),
        ])),
    },
    "record": ["TODAY"],
    "open_records": [("TODAY", "connected")],
    "leases": [],
}

# Right after the run logs one of these it is making that change (the kill lands mid-call or just after).
LOGGED_STEPS = [
    r"create writer instance",
    r"tag dev-\d+ ready",
    r"point db\.dev\.example\.com at",
    r"tag dev-\d+ connected",
    r"delete instance",
]


def test_killed_at_random_moments_ends_like_an_uninterrupted_run(devdb_project):
    project = devdb_project(CLEAN_GRACE=GRACE)
    rng = random.Random(SEED)
    day = datetime(2026, 11, 22, 5, 0, tzinfo=timezone.utc)

    # Day 1, killed while the first clone is being made, then finished by the next run.
    code, lines = run_killed(project, stamp(day), after=r"create clone")
    assert code == -signal.SIGKILL, "".join(lines)
    assert project.refresh(later(day)).returncode == 0
    today = f"dev-{day:%Y%m%d}"
    assert end_state(project, today) == EXPECTED_DAY
    assert_history(project, today)

    # Day 2, uninterrupted: the reference end state, and the typical run time.
    day += timedelta(days=1)
    started = time.monotonic()
    result = project.refresh(stamp(day))
    typical = time.monotonic() - started
    reference = end_state(project, f"dev-{day:%Y%m%d}")
    assert reference == EXPECTED_DAY
    assert_history(project, f"dev-{day:%Y%m%d}", today)
    assert "deleted dev-20261122" in result.stdout

    # Each later morning (after a clean one) is killed once, at a random moment or right after a
    # logged step, and then run again to completion.
    plan = [("delay", rng.uniform(0.2, typical)) for _ in range(2)]
    plan += [("after", step) for step in LOGGED_STEPS]
    rng.shuffle(plan)
    landed = 0
    for kind, point in plan:
        yesterday = f"dev-{day:%Y%m%d}"
        day += timedelta(days=1)
        today = f"dev-{day:%Y%m%d}"
        if kind == "delay":
            code, lines = run_killed(project, stamp(day), delay=point)
        else:
            code, lines = run_killed(project, stamp(day), after=point, extra=rng.uniform(0, 0.02))
            assert code == -signal.SIGKILL, f"{point}: the run ended before the kill\n{''.join(lines)}"
        landed += code == -signal.SIGKILL
        rerun = project.refresh(later(day))
        assert rerun.returncode == 0, f"after a kill at {kind} {point}: {rerun.stderr}"
        assert "Traceback" not in rerun.stderr
        assert end_state(project, today) == reference, f"kill at {kind} {point}"
        assert_history(project, today, yesterday)
        # One clone a day, and no leftovers from the killed run.
        assert sorted(c for c in project.clusters() if c.startswith("dev-")) == [today]
        assert project.record_value().rstrip(".") == project.clusters()[today]["Endpoint"]
    assert landed >= len(plan) - 1  # a random delay may, rarely, outlast the run


def test_killed_again_and_again_on_day_one(devdb_project):
    """Several kills of the same morning's run in a row, then one to completion."""
    project = devdb_project()
    rng = random.Random(SEED + 1)
    day = datetime(2026, 11, 22, 5, 0, tzinfo=timezone.utc)
    points = [("after", r"create writer instance"), ("delay", rng.uniform(0.2, 1.5)), ("after", r"tag dev-\d+ ready")]
    kills = 0
    for kind, point in points:
        now = stamp(day)
        day += timedelta(minutes=1)
        if kind == "delay":
            code, _ = run_killed(project, now, delay=point)
        else:
            code, _ = run_killed(project, now, after=point)
        kills += code == -signal.SIGKILL
        if code == 0:
            break
    assert kills >= 1
    now = stamp(day)
    result = project.refresh(now)
    assert result.returncode == 0, result.stderr
    assert end_state(project, "dev-20261122") == EXPECTED_DAY
    assert_history(project, "dev-20261122")
    assert project.record_value().rstrip(".") == project.clusters()["dev-20261122"]["Endpoint"]
    # and the records mirror a single clone
    assert list(project.records()) == ["dev-20261122"]
    assert RECORD in project.status(now)["targets"][0]["record_name"]
