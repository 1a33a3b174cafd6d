"""End to end: `python manage.py refresh_devdb` (project.settings) against moto's standalone server,
over simulated days (DEVDB_SANDBOX_NOW), as cron would run it every morning."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.project import (DAY1, DAY2, RECORD, assert_connected_clone, assert_status_json, clone_ids, day_at,
                       unrelated_state, unstamped)
from tests.project import devdb_project  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_two_days_in_a_busy_account(devdb_project):
    """150 unrelated clusters with instances (two pages of describe calls); day 1 connects
    dev-20261122, day 2 connects dev-20261123 and deletes day 1's; the rest is never touched."""
    project = devdb_project(unrelated=150)
    before = unrelated_state(project)
    assert len(before[0]) == 151 and len(before[1]) == 151  # prod-aurora + 150 others

    day1 = project.refresh(DAY1)
    assert day1.returncode == 0
    # restore, writer, the source's IAM role, record, tags (the seeded source is configured like production)
    assert unstamped(day1.stdout) == "dev: 6 change(s); created dev-20261122; dev-20261122 is connected"
    assert "Traceback" not in day1.stderr
    assert clone_ids(project) == ["dev-20261122"]
    assert_connected_clone(project, "dev-20261122", day_at(DAY1))
    assert unrelated_state(project) == before
    first_endpoint = project.clusters()["dev-20261122"]["Endpoint"]
    assert_status_json(project, DAY1, "dev-20261122")

    records = project.records()
    assert set(records) == {"dev-20261122"}
    record = records["dev-20261122"]
    assert (record["target"], record["state"], record["source"], record["instance_id"], record["endpoint"]) == (
        "dev", "connected", "prod-aurora", "dev-20261122-1", first_endpoint)
    assert record["ready_at"] and record["connected_at"] and not record["aborted_at"] and not record["deleted_at"]
    assert project.events("dev-20261122") == [("", "created"), ("created", "ready"), ("ready", "connected")]

    day2 = project.refresh(DAY2)
    assert day2.returncode == 0
    assert unstamped(day2.stdout) == (
        "dev: 9 change(s); created dev-20261123; deleted dev-20261122; dev-20261123 is connected")
    assert clone_ids(project) == ["dev-20261123"]
    assert "dev-20261122-1" not in project.instances()
    assert_connected_clone(project, "dev-20261123", day_at(DAY2))
    assert unrelated_state(project) == before
    assert project.leases() == []

    records = project.records()
    assert set(records) == {"dev-20261122", "dev-20261123"}
    old, new = records["dev-20261122"], records["dev-20261123"]
    assert old["state"] == "deleted" and old["aborted_at"] and old["deleted_at"]
    assert old["endpoint"] == first_endpoint
    assert new["state"] == "connected" and new["endpoint"] == project.clusters()["dev-20261123"]["Endpoint"]
    assert project.events("dev-20261122") == [
        ("", "created"), ("created", "ready"), ("ready", "connected"), ("connected", "aborted"), ("aborted", "deleted")]
    assert project.events("dev-20261123") == [("", "created"), ("created", "ready"), ("ready", "connected")]

    # Cron fires again the same morning: nothing to do, nothing changes.
    snapshot = project.snapshot()
    again = project.refresh(DAY2)
    assert again.returncode == 0
    assert unstamped(again.stdout) == "dev: nothing to do; dev-20261123 is connected"
    assert " INFO " not in again.stderr and "WARNING" not in again.stderr
    assert project.snapshot() == snapshot
    strip = lambda rows: {k: {f: v for f, v in row.items() if f != "updated_at"} for k, row in rows.items()}  # noqa: E731
    assert strip(project.records()) == strip(records)
    assert len(project.events("dev-20261123")) == 3
    report = assert_status_json(project, DAY2, "dev-20261123")
    assert report["points_at"].rstrip(".") != first_endpoint


def test_a_week_of_mornings(devdb_project):
    """Several mornings across a month end: every day exactly one live clone, yesterday's deleted,
    and the control DB holds the whole history."""
    project = devdb_project(unrelated=3)
    before = unrelated_state(project)
    start = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
    days = [start + timedelta(days=n) for n in range(5)]  # 28, 29, 30 Nov, 1, 2 Dec
    names = [f"dev-{d:%Y%m%d}" for d in days]
    for n, (day, name) in enumerate(zip(days, names)):
        now = day.strftime("%Y-%m-%dT%H:%M:%SZ")
        result = project.refresh(now)
        assert result.returncode == 0, result.stderr
        assert f"created {name}" in result.stdout
        if n:
            assert f"deleted {names[n - 1]}" in result.stdout
        assert clone_ids(project) == [name]
        assert_connected_clone(project, name, day)
        assert unrelated_state(project) == before
    assert names[-2:] == ["dev-20261201", "dev-20261202"]

    records = project.records()
    assert sorted(records) == names
    assert [records[n]["state"] for n in names] == ["deleted"] * 4 + ["connected"]
    for earlier, later in zip(names, names[1:]):
        # who was live when: each clone was live until the next one took over
        assert records[earlier]["connected_at"] < records[later]["connected_at"]
        assert records[earlier]["aborted_at"] >= records[later]["connected_at"]
    assert len(project.query("SELECT id FROM devdb_cloneevent")) == 4 * 5 + 3
    assert_status_json(project, days[-1].strftime("%Y-%m-%dT%H:%M:%SZ"), names[-1])

    # The text status names the live clone.
    text = project.manage("status_devdb", now=days[-1].strftime("%Y-%m-%dT%H:%M:%SZ")).stdout
    assert text.splitlines()[0] == f"target dev: {RECORD} -> {names[-1]}"
    assert "<- live" in text
