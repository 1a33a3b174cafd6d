"""The engine against moto: clone, connect, clean and the daily refresh, step by step.

AWS tags are the source of truth, so most assertions read the (moto) account back; what moto does not
echo (security groups on a restore, PubliclyAccessible on an instance) is asserted on the request
itself through a botocore `provide-client-params` hook.
"""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command

from devdb import engine as engine_module
from devdb import runner
from devdb.aws import Gateway
from devdb.errors import CloneFailed
from devdb.models import CloneEvent, CloneRecord
from tests.aws_calls import Requests, recorded_gateway

pytestmark = pytest.mark.django_db(databases="__all__")

OUR_KEYS = {"devdb:managed-by", "devdb:target", "devdb:state", "devdb:state-since", "devdb:source"}
SG = "sg-0123456789abcdef0"


def iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def state(aws, cluster_id):
    return aws.tags(cluster_id).get("devdb:state")


def refresh(make_engine, **kwargs):
    gateway, requests = recorded_gateway()
    make_engine(gateway=gateway).refresh(**kwargs)
    return requests


def events(cluster_id):
    return [(e.from_state, e.to_state) for e in CloneEvent.objects.filter(record__cluster_id=cluster_id)]


def transitions(cluster_id):
    """State changes only (events without a change are notes)."""
    return [pair for pair in events(cluster_id) if pair[0] != pair[1]]


# --- clone ---------------------------------------------------------------------------------------


def test_clone_creates_todays_copy_on_write_clone_with_writer_and_exact_tags(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"].update(EXTRA_TAGS={"team": "qa", "cost-center": "42"},
                                            VPC_SECURITY_GROUP_IDS=[SG])
    # 01:30 at UTC+05:00 on the 23rd is still the 22nd in UTC: the name uses the UTC date.
    clock.moment = datetime(2026, 11, 23, 1, 30, tzinfo=timezone(timedelta(hours=5)))
    gateway, requests = recorded_gateway()
    engine = make_engine(gateway=gateway)
    engine.lookup()
    engine.clone()

    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.instance_ids() == ["dev-20261122-1", "prod-aurora-1"]

    (restore,) = requests.named("RestoreDBClusterToPointInTime")
    assert restore["DBClusterIdentifier"] == "dev-20261122"
    assert restore["SourceDBClusterIdentifier"] == "prod-aurora"
    assert restore["RestoreType"] == "copy-on-write"
    assert restore["UseLatestRestorableTime"] is True
    assert restore["VpcSecurityGroupIds"] == [SG]
    assert "RestoreToTime" not in restore

    (create,) = requests.named("CreateDBInstance")
    assert create["DBInstanceIdentifier"] == "dev-20261122-1"
    assert create["DBClusterIdentifier"] == "dev-20261122"
    assert create["DBInstanceClass"] == "db.t4g.medium"
    assert create["Engine"] == aws.cluster("prod-aurora")["Engine"] == "aurora-mysql"
    assert create["PubliclyAccessible"] is False

    instance = aws.rds.describe_db_instances(DBInstanceIdentifier="dev-20261122-1")["DBInstances"][0]
    assert instance["DBInstanceClass"] == "db.t4g.medium"
    assert instance["Engine"] == "aurora-mysql"
    assert instance["DBClusterIdentifier"] == "dev-20261122"
    assert instance["PubliclyAccessible"] is False

    expected = {
        "devdb:managed-by": "django-devdb",
        "devdb:target": "dev",
        "devdb:state": "created",
        "devdb:state-since": "2026-11-22T20:30:00Z",
        "devdb:source": "prod-aurora",
        "team": "qa",
        "cost-center": "42",
    }
    assert aws.tags("dev-20261122") == expected
    assert aws.instance_tags("dev-20261122-1") == expected
    # Created with its tags in the same call: never an untagged moment.
    assert {t["Key"]: t["Value"] for t in restore["Tags"]} == expected
    assert {t["Key"]: t["Value"] for t in create["Tags"]} == expected
    assert requests.named("AddTagsToResource") == []

    record = CloneRecord.objects.get()
    assert (record.cluster_id, record.state, record.instance_id, record.source, record.target) == (
        "dev-20261122", "created", "dev-20261122-1", "prod-aurora", "dev")
    assert record.created_at == clock.now()


def test_clone_can_be_made_publicly_accessible(aws, devdb_settings, make_engine):
    devdb_settings["TARGETS"]["dev"]["PUBLICLY_ACCESSIBLE"] = True
    gateway, requests = recorded_gateway()
    engine = make_engine(gateway=gateway)
    engine.lookup()
    engine.clone()
    (create,) = requests.named("CreateDBInstance")
    assert create["PubliclyAccessible"] is True
    (restore,) = requests.named("RestoreDBClusterToPointInTime")
    # none configured: the source's (AWS would otherwise give the clone the VPC's default group)
    assert sorted(restore["VpcSecurityGroupIds"]) == aws.zone_id.source["VpcSecurityGroupIds"]


def test_clone_twice_the_same_day_makes_one_clone(aws, make_engine, clock):
    first = make_engine()
    first.lookup()
    first.clone()
    clock.advance(hours=3)
    gateway, requests = recorded_gateway()
    second = make_engine(gateway=gateway)
    second.lookup()
    second.clone()
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.instance_ids() == ["dev-20261122-1", "prod-aurora-1"]
    assert requests.mutating() == []
    assert aws.tags("dev-20261122")["devdb:state-since"] == "2026-11-22T05:00:00Z"


def test_clone_finishes_a_clone_whose_writer_a_killed_run_never_created(aws, make_engine, clock):
    first = make_engine()
    first.lookup()
    first.clone()
    aws.rds.delete_db_instance(DBInstanceIdentifier="dev-20261122-1", SkipFinalSnapshot=True)
    clock.advance(minutes=10)
    gateway, requests = recorded_gateway()
    second = make_engine(gateway=gateway)
    second.lookup()
    second.clone()
    assert [op for op, _ in requests.mutating()] == ["CreateDBInstance"]
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.instance_ids() == ["dev-20261122-1", "prod-aurora-1"]
    # The instance gets the clone's tags, dated like the clone.
    assert aws.instance_tags("dev-20261122-1") == aws.tags("dev-20261122")


def test_refresh_twice_the_same_day_makes_one_clone_and_changes_nothing(aws, make_engine, clock):
    refresh(make_engine)
    tags = aws.tags("dev-20261122")
    record = aws.record()
    clock.advance(hours=2)
    requests = refresh(make_engine)
    assert requests.mutating() == []
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.tags("dev-20261122") == tags
    assert tags["devdb:state"] == "connected"
    assert aws.record() == record == aws.cluster("dev-20261122")["Endpoint"]
    assert CloneRecord.objects.count() == 1


def test_an_aborted_clone_of_today_is_not_replaced_the_same_day(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1  # keeps it: it was ready once
    engine = make_engine()
    engine.lookup()
    cluster = engine.clone()
    engine.wait_ready(cluster)
    engine.set_state(cluster, "aborted", message="superseded by hand")
    clock.advance(hours=1)
    refresh(make_engine)  # aborted once ready is the operator's doing, not a failure (issue 11, point 9)
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert state(aws, "dev-20261122") == "aborted"
    assert aws.record() is None


# --- connect -------------------------------------------------------------------------------------


def test_connect_upserts_the_cname_with_ttl_and_aborts_the_previous_clone(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"].update(RECORD_TTL=300, CLEAN_GRACE=3600)
    refresh(make_engine)  # day 1: dev-20261122 connected
    clock.advance(days=1)
    gateway, requests = recorded_gateway()
    engine = make_engine(gateway=gateway)
    engine.lookup()
    today = engine.clone()
    engine.wait_ready(today)
    clock.advance(seconds=7)
    engine.connect()

    (change,) = requests.named("ChangeResourceRecordSets")
    assert change["HostedZoneId"] == aws.zone_id
    (item,) = change["ChangeBatch"]["Changes"]
    assert item["Action"] == "UPSERT"
    new_endpoint = aws.cluster("dev-20261123")["Endpoint"]
    assert item["ResourceRecordSet"] == {
        "Name": "db.dev.example.com", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": new_endpoint}]}

    sets = aws.route53.list_resource_record_sets(HostedZoneId=aws.zone_id)["ResourceRecordSets"]
    (cname,) = [s for s in sets if s["Type"] == "CNAME"]
    assert cname["Name"] == "db.dev.example.com."
    assert cname["TTL"] == 300
    assert cname["ResourceRecords"] == [{"Value": new_endpoint}]

    since = iso(clock.now())
    for tags in (aws.tags("dev-20261123"), aws.instance_tags("dev-20261123-1")):
        assert (tags["devdb:state"], tags["devdb:state-since"]) == ("connected", since)
    for tags in (aws.tags("dev-20261122"), aws.instance_tags("dev-20261122-1")):
        assert (tags["devdb:state"], tags["devdb:state-since"]) == ("aborted", since)
    assert engine.outcome.connected == "dev-20261123"
    records = {r.cluster_id: r for r in CloneRecord.objects.all()}
    assert records["dev-20261123"].state == "connected"
    assert records["dev-20261123"].connected_at == clock.now()
    assert records["dev-20261122"].state == "aborted"
    assert records["dev-20261122"].aborted_at == clock.now()
    assert records["dev-20261123"].endpoint == new_endpoint


def test_connect_with_the_name_already_right_changes_nothing(aws, make_engine):
    refresh(make_engine)
    gateway, requests = recorded_gateway()
    engine = make_engine(gateway=gateway)
    engine.lookup()
    engine.connect()
    assert requests.mutating() == []
    assert engine.outcome.connected == "dev-20261122"


def test_older_ready_clone_is_aborted_when_a_newer_one_is_connected(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["CLEAN_GRACE"] = 3600
    engine = make_engine()
    engine.lookup()
    engine.wait_ready(engine.clone())  # day 1 becomes ready but is never connected
    assert state(aws, "dev-20261122") == "ready"
    clock.advance(days=1)
    engine = make_engine()
    engine.lookup()
    engine.wait_ready(engine.clone())
    engine.connect()
    assert state(aws, "dev-20261123") == "connected"
    assert state(aws, "dev-20261122") == "aborted"
    assert aws.instance_tags("dev-20261122-1")["devdb:state"] == "aborted"
    assert aws.record() == aws.cluster("dev-20261123")["Endpoint"]
    assert transitions("dev-20261122") == [("", "created"), ("created", "ready"), ("ready", "aborted")]
    last = CloneEvent.objects.filter(record__cluster_id="dev-20261122").last()
    assert "superseded by dev-20261123" in last.message


# --- clean ---------------------------------------------------------------------------------------


def test_clean_deletes_the_instance_then_the_cluster(aws, make_engine, clock):
    refresh(make_engine)
    clock.advance(days=1)
    engine = make_engine()
    engine.lookup()
    engine.wait_ready(engine.clone())
    engine.connect()
    clock.advance(minutes=5)
    gateway, requests = recorded_gateway()
    cleaner = make_engine(gateway=gateway)
    cleaner.lookup()
    assert cleaner.clean() == ["dev-20261122"]
    deletes = [(op, params) for op, params in requests.mutating()]
    assert deletes == [
        ("DeleteDBInstance", {"DBInstanceIdentifier": "dev-20261122-1", "SkipFinalSnapshot": True}),
        ("DeleteDBCluster", {"DBClusterIdentifier": "dev-20261122", "SkipFinalSnapshot": True}),
        # its CloudWatch log groups (the seeded source exports error and slowquery; issue 18.8)
        ("DeleteLogGroup", {"logGroupName": "/aws/rds/cluster/dev-20261122/error"}),
        ("DeleteLogGroup", {"logGroupName": "/aws/rds/cluster/dev-20261122/slowquery"}),
    ]
    # The live DNS record is read right before deleting.
    ops = requests.operations()
    assert "ListResourceRecordSets" in ops[:ops.index("DeleteDBInstance")]
    assert aws.cluster_ids() == ["dev-20261123", "prod-aurora"]
    assert aws.instance_ids() == ["dev-20261123-1", "prod-aurora-1"]
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert record.state == "deleted"
    assert record.deleted_at == clock.now()


def test_clean_waits_for_the_grace(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["CLEAN_GRACE"] = 600
    refresh(make_engine)
    clock.advance(days=1)
    engine = make_engine()
    engine.lookup()
    engine.wait_ready(engine.clone())
    engine.connect()
    clock.advance(seconds=599)
    early = make_engine()
    early.lookup()
    assert early.clean() == []
    assert "dev-20261122" in aws.cluster_ids()
    clock.advance(seconds=1)
    late = make_engine()
    late.lookup()
    assert late.clean() == ["dev-20261122"]
    assert "dev-20261122" not in aws.cluster_ids()


# --- day after day -------------------------------------------------------------------------------


def test_three_days_of_refresh_leave_one_connected_clone_with_matching_history(aws, make_engine, clock):
    days = ["dev-20261122", "dev-20261123", "dev-20261124"]
    starts = []
    for day in days:
        starts.append(clock.now())
        outcome = make_engine().refresh()
        assert outcome.connected == day
        assert aws.record() == aws.cluster(day)["Endpoint"]
        clock.advance(days=1)

    assert aws.cluster_ids() == ["dev-20261124", "prod-aurora"]
    assert aws.instance_ids() == ["dev-20261124-1", "prod-aurora-1"]
    assert state(aws, "dev-20261124") == "connected"
    assert aws.instance_tags("dev-20261124-1")["devdb:state"] == "connected"
    assert aws.record() == aws.cluster("dev-20261124")["Endpoint"]

    records = {r.cluster_id: r for r in CloneRecord.objects.all()}
    assert sorted(records) == days
    assert {k: r.state for k, r in records.items()} == {
        "dev-20261122": "deleted", "dev-20261123": "deleted", "dev-20261124": "connected"}
    lifetime = [("", "created"), ("created", "ready"), ("ready", "connected"), ("connected", "aborted"),
                ("aborted", "deleted")]
    assert transitions("dev-20261122") == lifetime
    assert transitions("dev-20261123") == lifetime
    assert transitions("dev-20261124") == lifetime[:3]
    for day, start in zip(days, starts):
        record = records[day]
        assert record.created_at == start
        assert record.ready_at == record.connected_at == start
        assert record.instance_id == day + "-1"
        assert record.source == "prod-aurora"
        assert record.last_error == ""
    # Each clone was aborted (and deleted) the morning the next one was connected.
    assert records["dev-20261122"].aborted_at == records["dev-20261122"].deleted_at == starts[1]
    assert records["dev-20261123"].aborted_at == records["dev-20261123"].deleted_at == starts[2]


def test_keep_aborted_keeps_the_newest_aborted_clone(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    for _ in range(4):
        make_engine().refresh()
        clock.advance(days=1)
    assert aws.cluster_ids() == ["dev-20261124", "dev-20261125", "prod-aurora"]
    assert aws.instance_ids() == ["dev-20261124-1", "dev-20261125-1", "prod-aurora-1"]
    assert state(aws, "dev-20261125") == "connected"
    assert state(aws, "dev-20261124") == "aborted"
    assert aws.record() == aws.cluster("dev-20261125")["Endpoint"]
    states = dict(CloneRecord.objects.values_list("cluster_id", "state"))
    assert states == {"dev-20261122": "deleted", "dev-20261123": "deleted", "dev-20261124": "aborted",
                      "dev-20261125": "connected"}


# --- a clone that never becomes ready ------------------------------------------------------------


def keep_writers_creating(gateway, since):
    """Make moto report today's writer as still 'creating' (it is 'available' at once otherwise).

    The cluster itself becomes available (AWS creates the writer only then)."""

    def patch(parsed, **kwargs):
        for item in parsed.get("DBInstances", []):
            if item["DBInstanceIdentifier"].startswith(since):
                item["DBInstanceStatus"] = "creating"

    gateway.rds.meta.events.register("after-call.rds.DescribeDBInstances", patch)
    return gateway


def test_clone_stuck_creating_past_ready_timeout_is_aborted_and_the_name_stays(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"].update(READY_TIMEOUT=900, KEEP_ABORTED=1, CLEAN_GRACE=120)
    refresh(make_engine)
    old_endpoint = aws.cluster("dev-20261122")["Endpoint"]
    clock.advance(days=1)
    start = clock.now()
    gateway = keep_writers_creating(Gateway(max_attempts=3), "dev-20261123")
    requests = Requests(gateway)
    with pytest.raises(CloneFailed, match=r"dev-20261123 aborted: did not become available within READY_TIMEOUT \(900s\)") as failed:
        make_engine(gateway=gateway).refresh()
    assert failed.value.exit_code == 1

    assert aws.record() == old_endpoint
    assert state(aws, "dev-20261122") == "connected"
    assert aws.instance_tags("dev-20261122-1")["devdb:state"] == "connected"
    # Cluster and instance were tagged aborted when READY_TIMEOUT ran out ...
    aborted_at = start + timedelta(seconds=900)
    # (in one TagResources call).
    tagged = [([arn.rsplit(":", 1)[-1] for arn in p["ResourceARNList"]], p["Tags"]) for p in requests.named("TagResources")]
    assert tagged == [(["dev-20261123", "dev-20261123-1"], {"devdb:state": "aborted", "devdb:state-since": iso(aborted_at)})]
    # ... and, never ready (so no rollback target even with KEEP_ABORTED=1) nor live, cleaned at once:
    # nobody resolved the name to it, the grace protects nobody.
    assert requests.mutating()[-4:] == [
        ("DeleteDBInstance", {"DBInstanceIdentifier": "dev-20261123-1", "SkipFinalSnapshot": True}),
        ("DeleteDBCluster", {"DBClusterIdentifier": "dev-20261123", "SkipFinalSnapshot": True}),
        ("DeleteLogGroup", {"logGroupName": "/aws/rds/cluster/dev-20261123/error"}),
        ("DeleteLogGroup", {"logGroupName": "/aws/rds/cluster/dev-20261123/slowquery"}),
    ]
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert clock.now() == aborted_at
    record = CloneRecord.objects.get(cluster_id="dev-20261123")
    assert record.aborted_at == aborted_at
    assert "did not become available within READY_TIMEOUT (900s)" in record.last_error
    assert record.ready_at is None and record.connected_at is None
    assert transitions("dev-20261123") == [("", "created"), ("created", "aborted"), ("aborted", "deleted")]
    assert CloneRecord.objects.get(cluster_id="dev-20261122").state == "connected"


def test_refresh_command_exits_1_when_the_clone_never_becomes_ready(aws, devdb_settings, make_engine, clock, monkeypatch):
    devdb_settings["TARGETS"]["dev"]["READY_TIMEOUT"] = 600
    refresh(make_engine)
    old_endpoint = aws.cluster("dev-20261122")["Endpoint"]
    clock.advance(days=1)
    monkeypatch.setattr(engine_module, "Clock", lambda: clock)
    monkeypatch.setattr(runner, "Gateway", lambda **kw: keep_writers_creating(Gateway(**kw), "dev-20261123"))
    with pytest.raises(CommandError) as failed:
        call_command("refresh_devdb", verbosity=0)
    assert failed.value.returncode == 1
    message = str(failed.value)
    assert "\n" not in message
    assert "dev-20261123" in message and "READY_TIMEOUT" in message
    assert aws.record() == old_endpoint
    assert state(aws, "dev-20261122") == "connected"
    # Aborted (and, with KEEP_ABORTED=0 and no grace left, cleaned): the record keeps the reason.
    record = CloneRecord.objects.get(cluster_id="dev-20261123")
    assert record.aborted_at is not None
    assert "READY_TIMEOUT" in record.last_error
    assert "dev-20261123" not in aws.cluster_ids()


# --- safety --------------------------------------------------------------------------------------


def test_source_and_unrelated_clusters_are_never_touched(aws, devdb_settings, make_engine, clock):
    aws.rds.create_db_cluster(DBClusterIdentifier="billing", Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="billing-password", Tags=[{"Key": "team", "Value": "billing"}])
    aws.rds.create_db_instance(DBInstanceIdentifier="billing-1", DBClusterIdentifier="billing",
                               DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
    # Another target's clone (same tags but target=qa) is not ours either.
    aws.rds.create_db_cluster(DBClusterIdentifier="qa-20261101", Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="qa-password", Tags=[
                                  {"Key": "devdb:managed-by", "Value": "django-devdb"},
                                  {"Key": "devdb:target", "Value": "qa"},
                                  {"Key": "devdb:state", "Value": "aborted"},
                                  {"Key": "devdb:state-since", "Value": "2026-11-01T05:00:00Z"},
                                  {"Key": "devdb:source", "Value": "prod-aurora"}])
    before = {cid: aws.tags(cid) for cid in ("prod-aurora", "billing", "qa-20261101")}
    instance_before = {iid: aws.instance_tags(iid) for iid in ("prod-aurora-1", "billing-1")}
    mutations = []
    for _ in range(3):
        gateway, requests = recorded_gateway()
        make_engine(gateway=gateway).refresh()
        mutations += requests.mutating()
        clock.advance(days=1)

    assert aws.cluster_ids() == ["billing", "dev-20261124", "prod-aurora", "qa-20261101"]
    assert aws.instance_ids() == ["billing-1", "dev-20261124-1", "prod-aurora-1"]
    assert {cid: aws.tags(cid) for cid in before} == before
    assert {iid: aws.instance_tags(iid) for iid in instance_before} == instance_before
    assert aws.cluster("prod-aurora")["Status"] == "available"
    untouchable = {"prod-aurora", "prod-aurora-1", "billing", "billing-1", "qa-20261101"}
    for op, params in mutations:
        for key in ("DBClusterIdentifier", "DBInstanceIdentifier", "ResourceName"):
            if key in params:
                assert params[key].rsplit(":", 1)[-1] not in untouchable, (op, params)
        for arn in params.get("ResourceARNList", ()):
            assert arn.rsplit(":", 1)[-1] not in untouchable, (op, params)
        if op == "DeleteLogGroup":  # only a deleted clone's own log groups
            assert params["logGroupName"].split("/")[4].startswith("dev-"), (op, params)
    assert {op for op, _ in mutations if op not in (
        "RestoreDBClusterToPointInTime", "CreateDBInstance", "AddRoleToDBCluster", "TagResources",
        "ChangeResourceRecordSets", "DeleteDBInstance", "DeleteDBCluster", "DeleteLogGroup")} == set()
    assert all(p["SourceDBClusterIdentifier"] == "prod-aurora" for op, p in mutations
               if op == "RestoreDBClusterToPointInTime")


@pytest.mark.django_db(databases="__all__")
def test_a_lost_restore_response_is_finished_not_failed(aws, make_engine):
    """botocore retries a restore whose response was lost; AWS answers AlreadyExists. The run carries on."""
    engine = make_engine()
    # The first attempt made the cluster but its response was lost; AWS answers the retry with
    # DBClusterAlreadyExistsFault (moto answers differently, so that answer is injected here).
    from devdb.aws import AlreadyExists
    real_restore = engine.aws.restore_clone

    def restore_then_lose_response(**kwargs):
        real_restore(**kwargs)
        raise AlreadyExists("AWS RestoreDBClusterToPointInTime failed: DBClusterAlreadyExistsFault: exists")

    engine.aws.restore_clone = restore_then_lose_response
    engine.preflight()
    engine.lookup()
    cluster = engine.clone()
    assert cluster.id == "dev-20261122"
    assert [i.id for i in cluster.instances] == ["dev-20261122-1"]
    assert aws.cluster_ids().count("dev-20261122") == 1


@pytest.mark.django_db(databases="__all__")
def test_a_failing_signal_receiver_does_not_stop_the_refresh(aws, make_engine, caplog):
    from devdb.signals import clone_connected

    def broken(**kwargs):
        raise RuntimeError("chat is down")

    clone_connected.connect(broken)
    try:
        make_engine().refresh()
    finally:
        clone_connected.disconnect(broken)
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert "chat is down" in caplog.text


@pytest.mark.django_db(databases="__all__")
def test_a_failed_clone_cleaned_today_is_not_made_again_today(aws, make_engine, clock, monkeypatch):
    from devdb import probes

    def never(cluster, writer_id):
        raise probes.ProbeError("AWS reports cluster failed")

    with monkeypatch.context() as patch:
        patch.setattr(probes, "status_ready", never)
        with pytest.raises(CloneFailed):
            make_engine().refresh()
    assert "dev-20261122" not in aws.cluster_ids()  # aborted, then cleaned (grace 0)
    clock.advance(hours=2)
    with pytest.raises(CloneFailed, match="already made"):
        make_engine().refresh()
    assert "dev-20261122" not in aws.cluster_ids()
    clock.advance(days=1)
    make_engine().refresh()
    assert aws.tags("dev-20261123")["devdb:state"] == "connected"


@pytest.mark.django_db(databases="__all__")
def test_a_state_change_and_its_event_are_recorded_together(aws, make_engine, monkeypatch):
    """A kill between saving the record and writing its event must not leave a state without event."""
    from devdb import history

    engine = make_engine()
    engine.refresh()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(history.CloneEvent.objects, "create", killed)
    with pytest.raises(KeyboardInterrupt):
        history.mirror(target="dev", cluster_id="dev-20261122", state="aborted", at=engine.now())
    monkeypatch.undo()
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert record.state == "connected"
    assert record.aborted_at is None
