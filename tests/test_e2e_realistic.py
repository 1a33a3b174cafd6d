"""End to end in the sandbox's realistic mode: `python manage.py refresh_devdb` against a simulation that
keeps AWS's timing and rules (restores stay `creating`, CreateDBInstance is refused until the cluster is
available, deletes linger, DNS changes stay PENDING, GetResources lags, a tenth of the calls is throttled),
with a source configured like production and a prefix in capitals, morning after morning.

Delays are the sandbox's scaled down (conftest's realistic_moto_server) and the project polls faster
(DEVDB_POLL_INITIAL / DEVDB_POLL_MAX), so a morning takes seconds.
"""

from datetime import datetime, timedelta, timezone

import pytest

from tests.project import assert_connected_clone, assert_status_json, unrelated_state, unstamped
from tests.project import realistic_devdb_project  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

# A tenth of the RDS, Route53 and tagging calls throttled, the same ones on every run of this file.
SANDBOX = {"throttle": 0.1, "seed": 20261128}
POLLS = {"POLL_INITIAL": 0.2, "POLL_MAX": 1}
FIRST = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)


def production(realistic_devdb_project, **kwargs):
    """A project on the realistic server: production-like source, unrelated clusters, prefix `Dev`."""
    kwargs.setdefault("unrelated", 3)
    return realistic_devdb_project(sandbox=SANDBOX, CLONE_PREFIX="Dev", **POLLS, **kwargs)


def stamp(day):
    return day.strftime("%Y-%m-%dT%H:%M:%SZ")


def configuration(project, cluster_id):
    """A cluster's configuration as read back from the account, in seed()'s terms (`Seeded.source`)."""
    cluster = project.clusters()[cluster_id]
    writer = project.instances()[f"{cluster_id}-1"]
    assert writer["DbInstancePort"] in (0, cluster["Port"]) and writer["Endpoint"]["Port"] == cluster["Port"]
    return {
        "Engine": cluster["Engine"], "EngineVersion": cluster["EngineVersion"],
        "VpcSecurityGroupIds": sorted(g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]),
        "DBSubnetGroup": cluster["DBSubnetGroup"], "DBClusterParameterGroup": cluster["DBClusterParameterGroup"],
        "Port": cluster["Port"], "IAMDatabaseAuthenticationEnabled": cluster["IAMDatabaseAuthenticationEnabled"],
        "StorageType": cluster["StorageType"],
        "EnabledCloudwatchLogsExports": cluster.get("EnabledCloudwatchLogsExports", []),
        "AssociatedRoles": sorted(r["RoleArn"] for r in cluster.get("AssociatedRoles", [])),
        "DBParameterGroupName": writer["DBParameterGroups"][0]["DBParameterGroupName"],
    }


def clones(project):
    """Every clone cluster by id -> status (the ones being deleted too)."""
    return {cid: c["Status"] for cid, c in project.clusters().items() if cid.startswith("dev-")}


def assert_morning(project, day, name, yesterday, before):
    """The morning converged: `name` is the one live clone, configured like its source and connected;
    yesterday's is deleted or on its way (AWS keeps it `deleting` a while); nothing unrelated changed."""
    live = {cid for cid, status in clones(project).items() if status != "deleting"}
    assert live == {name}
    if yesterday:
        assert clones(project).get(yesterday, "deleting") == "deleting"
        writer = project.instances().get(f"{yesterday}-1")
        assert writer is None or writer["DBInstanceStatus"] == "deleting"
        assert project.records()[yesterday]["state"] == "deleted"
    assert_connected_clone(project, name, day)
    assert configuration(project, name) == project.zone_id.source
    assert unrelated_state(project) == before
    assert_status_json(project, stamp(day), name, leaving=yesterday)


def without(snapshot, cluster_id):
    """A snapshot() (tests.aws_calls.account_state) without one clone (being deleted: it may vanish at any
    moment); an instance is (status, cluster, tags)."""
    return {
        "clusters": {k: v for k, v in snapshot["clusters"].items() if k != cluster_id},
        "instances": {k: v for k, v in snapshot["instances"].items() if v[1] != cluster_id},
        "records": snapshot["records"],
    }


def test_mornings_across_a_month_end_converge_with_clones_configured_like_production(realistic_devdb_project):
    """Five mornings (28 Nov – 2 Dec) with prefix `Dev`: every run exits 0 and leaves one live clone
    named in lower case, configured like the production-like source, with the name on it and
    yesterday's deleted; a second run the same morning changes nothing. On 1 Dec a new master password
    is set (MASTER_PASSWORD_ENV): the clone goes through `resetting-master-credentials` and is available
    again before the name moves; the password is in no output."""
    project = production(realistic_devdb_project)
    source = project.zone_id.source
    assert source["Port"] == 3307 and source["IAMDatabaseAuthenticationEnabled"] and source["AssociatedRoles"]
    before = unrelated_state(project)
    days = [FIRST + timedelta(days=n) for n in range(5)]
    names = [f"dev-{day:%Y%m%d}" for day in days]
    password = "Fresh-clone-pw-2026"
    for n, (day, name) in enumerate(zip(days, names)):
        yesterday = names[n - 1] if n else None
        new_password = {"MASTER_PASSWORD_ENV": "DEVDB_E2E_NEW_PASSWORD", "E2E_NEW_PASSWORD": password} if n == 3 else {}
        result = project.refresh(stamp(day), **new_password)
        assert result.returncode == 0
        assert "Traceback" not in result.stderr and password not in result.stdout + result.stderr
        assert f"created {name}" in result.stdout and f"{name} is connected" in result.stdout
        if yesterday:
            assert f"deleted {yesterday}" in result.stdout
        assert_morning(project, day, name, yesterday, before)
        history = project.server.history()
        statuses = [e["status"] for e in history if e["resource"] == name]
        if new_password:
            assert statuses[:4] == ["creating", "available", "resetting-master-credentials", "available"]
            ready = max(e["at"] for e in history if e["resource"] == name and e["status"] == "available")
            moved = [e["at"] for e in history if e["type"] == "change" and e["status"] == "PENDING"]
            assert moved[-1] > ready  # the name moved only once the new password was in place
        else:
            assert statuses[:2] == ["creating", "available"] and "resetting-master-credentials" not in statuses

        # Cron fires again the same morning (yesterday's clone may still be deleting): nothing changes.
        snapshot = without(project.snapshot(), yesterday)
        again = project.refresh(stamp(day), **new_password)
        assert unstamped(again.stdout) == f"dev: nothing to do; {name} is connected"
        assert "WARNING" not in again.stderr
        assert without(project.snapshot(), yesterday) == snapshot

    records = project.records()
    assert sorted(records) == names
    assert [records[n]["state"] for n in names] == ["deleted"] * 4 + ["connected"]
    assert all(r["endpoint"].startswith(f"{r['cluster_id']}.cluster-") for r in records.values())


def test_aurora_postgresql_mornings(realistic_devdb_project):
    """An Aurora PostgreSQL source configured like production (port 5433, an s3Import role): two mornings."""
    project = production(realistic_devdb_project, unrelated=1, engine="aurora-postgresql")
    assert project.zone_id.source["Port"] == 5433
    before = unrelated_state(project)
    days = [FIRST, FIRST + timedelta(days=1)]
    names = [f"dev-{day:%Y%m%d}" for day in days]
    for n, (day, name) in enumerate(zip(days, names)):
        result = project.refresh(stamp(day))
        assert result.returncode == 0
        assert_morning(project, day, name, names[0] if n else None, before)
