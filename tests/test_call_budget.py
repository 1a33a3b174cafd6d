"""How many AWS calls a refresh makes: counts, not timing (issue 4, item 1).

A steady-state refresh (the morning after a successful one: clone, wait, connect, abort and delete
yesterday's clone and its log groups) makes exactly 25 AWS calls against moto's instant clones (at most 30), and 1,000 unrelated
clusters in the account may add at most 3. Lookups go through the Resource Groups Tagging API and
filtered describes; never one ListTagsForResource per resource.

Calls are counted with the gateway's own before-call hook (Gateway.operations) and, to see the
parameters, a 'provide-client-params' hook on the same clients.
"""

from collections import Counter

import pytest

from devdb.aws import Gateway
from devdb.models import CloneRecord
from devdb_sandbox import aws_rules
from tests.aws_calls import Requests

pytestmark = pytest.mark.django_db(databases="__all__")

BUDGET = 30
# Exactly what a steady-state morning costs on moto (instant clones; one poll each for the restored
# cluster and for the writer). A state change tags cluster and instance in one TagResources call.
STEADY_STATE = Counter({
    "GetHostedZone": 1,
    "GetResources": 1,
    # lookup (clones and source), the source's clone group (Aurora's 15 copy-on-write clones, before the restore),
    # restored cluster available, writer poll, before deleting
    "DescribeDBClusters": 5,
    "DescribeDBInstances": 3,  # lookup, writer poll, before deleting
    "RestoreDBClusterToPointInTime": 1,
    "CreateDBInstance": 1,
    "AddRoleToDBCluster": 1,  # the seeded source, like production, has an IAM role; its clone gets it too
    "TagResources": 3,  # today ready, today connected, yesterday aborted
    "ListResourceRecordSets": 3,  # what holds the stable name (preflight), before moving it, before deleting
    "DescribeOrderableDBInstanceOptions": 1,  # INSTANCE_CLASS exists for the source's version (before the restore)
    "DescribeAccountAttributes": 1,  # the DB-cluster quota has room (before the restore)
    "ChangeResourceRecordSets": 1,
    "DeleteDBInstance": 1,
    "DeleteDBCluster": 1,  # as soon as the instance is deleting
    "DeleteLogGroup": 2,  # the deleted clone's CloudWatch log groups: the seeded source exports error and slowquery
})
UNRELATED = 1000
UNRELATED_ALLOWANCE = 3
DESCRIBES = {"DescribeDBClusters": ("DBClusterIdentifier",), "DescribeDBInstances": ("DBInstanceIdentifier",)}


class Recorder:
    """A gateway whose calls are recorded with their parameters."""

    def __init__(self):
        self.gateway = Gateway(max_attempts=3)
        self.calls = Requests(self.gateway)

    @property
    def operations(self):
        return list(self.gateway.operations)

    def counts(self):
        return Counter(self.gateway.operations)


def refresh(make_engine):
    """One refresh_devdb run of target `dev` with a fresh gateway; returns its Recorder."""
    recorder = Recorder()
    make_engine(gateway=recorder.gateway).refresh()
    return recorder


def add_unrelated(aws, count=UNRELATED, instances=True):
    """`count` clusters (each with a writer) that are not this target's; a few are another target's clones.

    moto takes an automated snapshot of each new instance and caps snapshots at 1,000 by default:
    the callers raise the cap with MOTO_RDS_SNAPSHOT_LIMIT.
    """
    aws_rules.SIM.configure(cluster_quota=aws_rules.DEFAULT_QUOTA + 1 + count)  # a busy account's raised quota
    for n in range(count):
        name = f"other-{n:05d}"
        tags = [{"Key": "team", "Value": f"t{n % 7}"}]
        if n % 100 == 0:  # another target's clones: the tag filter must skip them too
            tags += [{"Key": "devdb:managed-by", "Value": "django-devdb"}, {"Key": "devdb:target", "Value": "qa"},
                     {"Key": "devdb:state", "Value": "connected"}]
        aws.rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin",
                                  MasterUserPassword="other-password", Tags=tags)
        if instances:
            aws.rds.create_db_instance(DBInstanceIdentifier=f"{name}-1", DBClusterIdentifier=name,
                                       DBInstanceClass="db.t4g.medium", Engine="aurora-mysql", Tags=tags)


def steady_state(aws, make_engine, clock):
    """Day 1 (first clone), then day 2: returns day 2's Recorder, after checking day 2 really did the job."""
    refresh(make_engine)
    clock.advance(days=1)
    recorder = refresh(make_engine)
    assert_did_the_daily_job(aws, "dev-20261123", "dev-20261122")
    return recorder


def exists(aws, cluster_id):
    try:
        aws.cluster(cluster_id)
    except aws.rds.exceptions.DBClusterNotFoundFault:
        return False
    return True


def assert_did_the_daily_job(aws, today, yesterday):
    assert exists(aws, today) and not exists(aws, yesterday)
    assert aws.tags(today)["devdb:state"] == "connected"
    assert aws.record() == aws.cluster(today)["Endpoint"]
    assert CloneRecord.objects.get(cluster_id=yesterday).state == "deleted"


def assert_lookups_are_filtered(recorder):
    operations = recorder.operations
    assert "ListTagsForResource" not in operations, recorder.counts()
    described = [(op, params) for op, params in recorder.calls if op in DESCRIBES]
    assert described, "expected some describes"
    for op, params in described:
        by_id = any(params.get(key) for key in DESCRIBES[op])
        by_filter = any(f.get("Values") for f in params.get("Filters") or [])
        assert by_id or by_filter, f"unfiltered {op}({params}) would list the whole account"


def test_steady_state_refresh_is_within_the_call_budget(aws, make_engine, clock):
    recorder = steady_state(aws, make_engine, clock)
    counts = recorder.counts()
    assert len(recorder.operations) <= BUDGET, f"{len(recorder.operations)} calls: {dict(counts)}"
    assert counts == STEADY_STATE, dict(counts)
    # 25 before TagResources and the lookup that reads the source; +1 role; +2 log groups of the deleted clone;
    # +1 the source's clone group (issue 18.4)
    assert len(recorder.operations) == 26
    assert "AddTagsToResource" not in counts
    # What a steady-state morning must contain, once each: the work itself, not a lookup loop.
    assert counts["GetResources"] <= 1
    assert counts["RestoreDBClusterToPointInTime"] == 1
    assert counts["CreateDBInstance"] == 1
    assert counts["ChangeResourceRecordSets"] == 1
    assert counts["DeleteDBCluster"] == 1


def test_steady_state_lookups_are_by_tag_and_filtered(aws, make_engine, clock):
    recorder = steady_state(aws, make_engine, clock)
    assert "GetResources" in recorder.operations
    assert_lookups_are_filtered(recorder)


def lookup(make_engine):
    """Engine.lookup() alone (what status_devdb and every step start from); returns its Recorder."""
    recorder = Recorder()
    make_engine(gateway=recorder.gateway).lookup()
    return recorder


def test_a_thousand_unrelated_clusters_add_at_most_three_calls(aws, make_engine, clock, monkeypatch):
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "100000")
    quiet = steady_state(aws, make_engine, clock)  # day 2 in an account with only the source
    quiet_lookup = lookup(make_engine)

    add_unrelated(aws)
    assert exists(aws, f"other-{UNRELATED - 1:05d}")
    busy_lookup = lookup(make_engine)
    clock.advance(days=1)
    busy = refresh(make_engine)  # day 3, same job, 1,000 more clusters (and instances) in the account
    assert_did_the_daily_job(aws, "dev-20261124", "dev-20261123")

    extra = len(busy.operations) - len(quiet.operations)
    assert extra <= UNRELATED_ALLOWANCE, (
        f"0 unrelated: {len(quiet.operations)} calls {dict(quiet.counts())}; "
        f"{UNRELATED} unrelated: {len(busy.operations)} calls {dict(busy.counts())}"
    )
    assert len(busy.operations) <= BUDGET
    assert_lookups_are_filtered(busy)

    # Finding the clones alone: three calls, whatever else the account holds.
    three = Counter({"GetResources": 1, "DescribeDBClusters": 1, "DescribeDBInstances": 1})
    assert quiet_lookup.counts() == busy_lookup.counts() == three
    assert_lookups_are_filtered(busy_lookup)
