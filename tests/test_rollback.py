"""KEEP_ABORTED and `connect_devdb --to CLUSTER`: rolling the stable name back to an earlier clone."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb import probes
from devdb.models import CloneRecord
from devdb_sandbox.moto_server import free_port, seed
from tests.aws_calls import Requests
from tests.project import manage

ROOT = Path(__file__).resolve().parent.parent
DAY1, DAY2, DAY3, DAY4 = "dev-20261122", "dev-20261123", "dev-20261124", "dev-20261125"

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def calls(monkeypatch, clock):
    """Commands run on the fake clock; every AWS call of their gateways is listed as (operation, params).

    Route53 answers like the real one under load: a change is PENDING and becomes INSYNC on the
    third GetChange. Returns the list of calls.
    """
    from devdb import aws as aws_module

    made = Requests()
    polls = {"n": 0}
    real_gateway = aws_module.Gateway

    def gateway(*args, **kwargs):
        gw = real_gateway(*args, **kwargs)

        def pending(parsed, **_):
            polls["n"] = 0
            parsed["ChangeInfo"]["Status"] = "PENDING"

        def get_change(parsed, **_):
            polls["n"] += 1
            parsed["ChangeInfo"]["Status"] = "INSYNC" if polls["n"] >= 3 else "PENDING"

        made.watch(gw)
        gw.route53.meta.events.register("after-call.route53.ChangeResourceRecordSets", pending)
        gw.route53.meta.events.register("after-call.route53.GetChange", get_change)
        return gw

    monkeypatch.setattr("devdb.runner.Gateway", gateway)
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    return made


def morning(clock, day):
    """Move the fake clock to 05:00 UTC of day `day` (1 = 2026-11-22)."""
    from tests.conftest import START

    clock.moment = START + timedelta(days=day - 1)


def state(aws, cluster_id):
    return aws.tags(cluster_id).get("devdb:state")


def test_keep_aborted_keeps_the_newest_n(aws, devdb_settings, calls, clock):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 2
    for day in (1, 2, 3, 4):
        morning(clock, day)
        call_command("refresh_devdb")
    assert aws.cluster_ids() == sorted(["prod-aurora", DAY2, DAY3, DAY4])
    assert [state(aws, c) for c in (DAY2, DAY3, DAY4)] == ["aborted", "aborted", "connected"]
    assert CloneRecord.objects.get(cluster_id=DAY1).state == "deleted"

    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 3  # more than there are: all kept
    call_command("clean_devdb")
    assert aws.cluster_ids() == sorted(["prod-aurora", DAY2, DAY3, DAY4])

    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 0
    call_command("clean_devdb")
    assert aws.cluster_ids() == sorted(["prod-aurora", DAY4])


def test_rollback_after_two_days_then_the_next_refresh_moves_on(aws, devdb_settings, calls, clock):
    """The scenario of issue 5: KEEP_ABORTED=1, two mornings, roll back to day 1, then day 3."""
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    morning(clock, 1)
    call_command("refresh_devdb")
    morning(clock, 2)
    call_command("refresh_devdb")
    day1, day2 = aws.cluster(DAY1)["Endpoint"], aws.cluster(DAY2)["Endpoint"]
    assert aws.record() == day2
    assert (state(aws, DAY1), state(aws, DAY2)) == ("aborted", "connected")  # day 1 kept for rollback

    clock.advance(hours=3)
    del calls[:]
    call_command("connect_devdb", "--to", DAY1)

    assert aws.record() == day1
    assert (state(aws, DAY1), state(aws, DAY2)) == ("connected", "aborted")
    assert aws.instance_tags(f"{DAY1}-1")["devdb:state"] == "connected"
    names = [name for name, _ in calls]
    assert names.count("ChangeResourceRecordSets") == 1
    change = next(p for name, p in calls if name == "ChangeResourceRecordSets")
    assert change["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]["ResourceRecords"] == [{"Value": day1}]
    # It waited for INSYNC (three GetChange polls) before calling day 1 connected.
    assert names.count("GetChange") == 3
    tagged_connected = next(i for i, (name, p) in enumerate(calls) if name == "TagResources"
                            and p["Tags"].get("devdb:state") == "connected")
    assert max(i for i, name in enumerate(names) if name == "GetChange") < tagged_connected
    record = CloneRecord.objects.get(cluster_id=DAY1)
    assert record.state == "connected"
    assert record.events.last().message.endswith("(rollback)")
    assert CloneRecord.objects.get(cluster_id=DAY2).events.last().message == f"superseded by {DAY1}"

    morning(clock, 3)
    call_command("refresh_devdb")
    assert aws.record() == aws.cluster(DAY3)["Endpoint"]
    assert state(aws, DAY3) == "connected"
    # Day 1 was live until this morning: it is the newest aborted clone, kept; day 2 is deleted.
    assert aws.cluster_ids() == sorted(["prod-aurora", DAY1, DAY3])
    assert state(aws, DAY1) == "aborted"
    assert CloneRecord.objects.get(cluster_id=DAY2).state == "deleted"


def test_rollback_dry_run_changes_nothing(aws, devdb_settings, calls, clock, capsys):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    for day in (1, 2):
        morning(clock, day)
        call_command("refresh_devdb")
    before = aws.record()
    capsys.readouterr()
    call_command("connect_devdb", "--to", DAY1, "--dry-run")
    out = capsys.readouterr().out
    assert f"dev: would point db.dev.example.com at {DAY1}" in out
    assert f"dev: would tag {DAY2} aborted" in out
    assert aws.record() == before
    assert (state(aws, DAY1), state(aws, DAY2)) == ("aborted", "connected")


def refused(*args):
    with pytest.raises(CommandError) as info:
        call_command("connect_devdb", *args)
    assert info.value.returncode == 1
    assert "\n" not in str(info.value)
    return str(info.value)


def test_rollback_is_refused_for_what_this_target_does_not_manage(aws, devdb_settings, calls, clock):
    devdb_settings["TARGETS"]["qa"] = {**devdb_settings["TARGETS"]["dev"], "RECORD_NAME": "db.qa.dev.example.com"}
    morning(clock, 1)
    call_command("refresh_devdb", "--parallel", "1")  # dev-20261122 and qa-20261122 (one thread: in-memory SQLite)
    morning(clock, 2)
    call_command("refresh_devdb", "dev")  # dev-20261123; dev-20261122 deleted (KEEP_ABORTED 0)
    aws.rds.create_db_cluster(DBClusterIdentifier="legacy-db", Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="legacy-password")
    record_before = aws.record()
    made_before = len(calls)
    tags_before = {c: aws.tags(c) for c in aws.cluster_ids()}

    assert refused("dev", "--to", "legacy-db") == "dev: --to: cluster legacy-db is not managed by django-devdb"
    assert refused("dev", "--to", "qa-20261122") == "dev: --to: cluster qa-20261122 belongs to target 'qa', not 'dev'"
    assert refused("dev", "--to", "prod-aurora") == (
        "dev: --to: prod-aurora is a source cluster; only a clone of target 'dev' can be connected")
    assert refused("dev", "--to", DAY1).startswith(f"dev: --to: clone {DAY1} was deleted at 2026-11-23T05:0")
    assert refused("dev", "--to", "dev-20200101") == "dev: --to: cluster dev-20200101 does not exist"
    assert refused("--to", DAY2).startswith("--to needs a TARGET")

    assert aws.record() == record_before
    assert {c: aws.tags(c) for c in aws.cluster_ids()} == tags_before
    assert not [name for name, _ in calls[made_before:] if not name.startswith(("Describe", "Get", "List"))]


def test_rollback_to_a_clone_that_never_became_ready_is_refused(aws, devdb_settings, calls, clock, monkeypatch):
    """A failed clone was never probed or masked: it is no rollback target, and KEEP_ABORTED skips it."""
    devdb_settings["TARGETS"]["dev"].update({"KEEP_ABORTED": 1, "READINESS_PROBE": "sql", "READY_TIMEOUT": 600})
    port = free_port()  # nobody listens: the sql probe fails with "unreachable"
    real_connect = probes.connect
    monkeypatch.setattr(probes, "connect", lambda host, **kw: real_connect("127.0.0.1", **{**kw, "port": port}))
    morning(clock, 1)
    call_command("clone_devdb")
    call_command("connect_devdb")  # waits READY_TIMEOUT, then aborts the clone (a warning: the name is untouched)
    assert state(aws, DAY1) == "aborted"
    message = refused("--to", DAY1)
    assert message.startswith(f"dev: --to: clone {DAY1} never became ready (sql probe did not succeed")
    assert "unreachable" in message
    assert aws.record() is None
    from devdb import conf
    from devdb.aws import Gateway
    from devdb.engine import Engine

    engine = Engine(conf.get_settings().targets["dev"], Gateway(), conf.get_settings(), clock=clock)
    engine.lookup()
    assert engine.keep() == set()


def test_rollback_end_to_end_with_project_settings(moto_server, tmp_path):
    """What an operator runs: manage.py against a moto server, DEVDB_KEEP_ABORTED=1, simulated mornings."""
    moto_server.reset()
    route53 = moto_server.client("route53")
    zone_id = seed(moto_server.client("rds"), route53)
    env_base = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
        "DEVDB_DATABASE_URL": f"sqlite:///{tmp_path}/devdb.sqlite3",
        "DEVDB_SOURCE_CLUSTER": "prod-aurora",
        "DEVDB_HOSTED_ZONE_ID": zone_id,
        "DEVDB_RECORD_NAME": "db.dev.example.com",
        "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
        "DEVDB_CLEAN_GRACE": "0",
        "DEVDB_KEEP_ABORTED": "1",
    }

    def run(*command, now="2026-11-22T05:00:00Z"):
        result = manage(*command, env={**moto_server.env(now), **env_base})
        assert result.returncode == 0, result.stderr
        return result.stdout

    def points_at():
        sets = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        return next(r["ResourceRecords"][0]["Value"] for r in sets if r["Type"] == "CNAME")

    run("migrate", "--database", "devdb", "--verbosity", "0")
    run("refresh_devdb", now="2026-11-22T05:00:00Z")
    run("refresh_devdb", now="2026-11-23T05:00:00Z")
    run("connect_devdb", "--to", DAY1, now="2026-11-23T09:00:00Z")
    rds = moto_server.client("rds")
    tags = {c["DBClusterIdentifier"]: {t["Key"]: t["Value"] for t in c.get("TagList", [])}
            for c in rds.describe_db_clusters()["DBClusters"]}
    assert (tags[DAY1]["devdb:state"], tags[DAY2]["devdb:state"]) == ("connected", "aborted")
    assert points_at().startswith(DAY1 + ".")

    out = run("refresh_devdb", "--json", now="2026-11-24T05:00:00Z")
    outcome = json.loads(out)[0]
    assert (outcome["connected"], outcome["created"], outcome["deleted"]) == (DAY3, [DAY3], [DAY2])
    assert points_at().startswith(DAY3 + ".")
    tags = {c["DBClusterIdentifier"]: {t["Key"]: t["Value"] for t in c.get("TagList", [])}
            for c in rds.describe_db_clusters()["DBClusters"]}
    assert {c: t["devdb:state"] for c, t in tags.items() if c != "prod-aurora"} == {DAY1: "aborted", DAY3: "connected"}
