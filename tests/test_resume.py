"""A refresh killed between any two AWS changes, then started again, ends like an uninterrupted one.

The day-2 refresh (yesterday's clone connected) makes a fixed sequence of mutating AWS calls. For each
call k a run is "killed" either right before call k is sent (a `before-call` hook raises) or right
after it succeeded (an `after-call` hook raises), in a fresh moto account; a new Engine on a new
Gateway then runs refresh again. The end state (clusters, instances, their tags, where the name points,
the records and their transitions) must equal the uninterrupted run's.
"""

import copy

import boto3
import pytest

from devdb.aws import Gateway
from devdb.models import CloneEvent, CloneRecord
from tests.aws_calls import READ_ONLY, on_request

# A bare source (port 3306, no IAM role): these tests pin call sequences and SQL against the MariaDB
# server here; the production-like source is exercised by test_parity, test_e2e and the realistic tests.
pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]

YESTERDAY, TODAY = "dev-20261122", "dev-20261123"

# The mutating calls of an uninterrupted day-2 refresh, in order, and what the account looks like
# when a run dies just before / just after each one.
BOUNDARIES = [
    ("RestoreDBClusterToPointInTime", TODAY,
     "nothing changed yet", "cluster created but not recorded, no instance"),
    ("CreateDBInstance", TODAY + "-1",
     "cluster created (and available) but no instance", "writer created, clone still tagged created"),
    ("TagResources", f"{TODAY},{TODAY}-1 ready",
     "clone available but still tagged created", "clone tagged ready but record not updated"),
    ("ChangeResourceRecordSets", TODAY,
     "clone ready but DNS not moved", "DNS moved but tags not updated"),
    ("TagResources", f"{TODAY},{TODAY}-1 connected",
     "DNS moved, new clone not yet tagged connected", "new clone connected, previous still tagged connected"),
    ("TagResources", f"{YESTERDAY},{YESTERDAY}-1 aborted",
     "two clones tagged connected", "previous clone tagged aborted but not deleted"),
    ("DeleteDBInstance", YESTERDAY + "-1",
     "previous clone aborted, nothing deleted", "instance deleting but cluster not"),
    ("DeleteDBCluster", YESTERDAY,
     "instance deleting, cluster delete not sent", "cluster deleted but record not updated"),
]

CASES = [
    pytest.param(k, when, id=f"{k + 1:02d}-{when}-{op}: {before if when == 'before' else after}")
    for k, (op, _, before, after) in enumerate(BOUNDARIES)
    for when in ("before", "after")
]

# What the uninterrupted day-2 refresh leaves (checked against a real run by the first test).
OUR_TAGS = {"devdb:managed-by": "django-devdb", "devdb:target": "dev", "devdb:source": "prod-aurora",
            "devdb:state": "connected"}
REFERENCE = {
    "clusters": {"prod-aurora": {"team": "prod"}, TODAY: OUR_TAGS},
    "instances": {"prod-aurora-1": ("prod-aurora", {}), TODAY + "-1": (TODAY, OUR_TAGS)},
    "record": TODAY,
    "records": {
        YESTERDAY: ("deleted", YESTERDAY + "-1", "prod-aurora", ""),
        TODAY: ("connected", TODAY + "-1", "prod-aurora", ""),
    },
    "transitions": {
        YESTERDAY: ["created", "ready", "connected", "aborted", "deleted"],
        TODAY: ["created", "ready", "connected"],
    },
}


class Killed(BaseException):
    """The process died: nothing in the engine may catch this."""


class Calls:
    """Names and subjects of a Gateway's mutating calls; optionally kills the run at the k-th one."""

    def __init__(self, gateway, kill_at=None, when="before"):
        self.made = []
        self.kill_at, self.when = kill_at, when
        self.count = 0
        on_request(gateway, self._describe)
        for client in gateway.clients:
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after)

    @staticmethod
    def mutating(operation):
        return not operation.startswith(READ_ONLY)

    def _describe(self, operation, params, service):
        if self.mutating(operation):
            self.made.append((operation, subject(operation, copy.deepcopy(params))))

    def _before(self, model, **kwargs):
        if not self.mutating(model.name):
            return
        self.count += 1
        if self.when == "before" and self.count - 1 == self.kill_at:
            raise Killed(f"killed before {model.name}")

    def _after(self, model, **kwargs):
        if self.mutating(model.name) and self.when == "after" and self.count - 1 == self.kill_at:
            raise Killed(f"killed after {model.name}")


def subject(operation, params):
    if operation == "TagResources":
        names = ",".join(arn.rsplit(":", 1)[-1] for arn in params["ResourceARNList"])
        return f"{names} {params['Tags'].get('devdb:state')}"
    if operation == "ChangeResourceRecordSets":
        value = params["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]["ResourceRecords"][0]["Value"]
        return value.split(".", 1)[0]
    return params.get("DBClusterIdentifier") if "Cluster" in operation else params.get("DBInstanceIdentifier")


def end_state(aws):
    """The end state, without what differs between moto accounts (endpoints) or runs (times)."""
    clusters = {c["DBClusterIdentifier"]: c for c in aws.rds.describe_db_clusters()["DBClusters"]}
    instances = aws.rds.describe_db_instances()["DBInstances"]

    def tags(item):
        found = {t["Key"]: t["Value"] for t in item.get("TagList", [])}
        found.pop("devdb:state-since", None)
        return found

    value = aws.record()
    pointed = [cid for cid, c in clusters.items() if value and c["Endpoint"].lower() == value.rstrip(".").lower()]
    records = CloneRecord.objects.all()
    return {
        "clusters": {cid: tags(c) for cid, c in clusters.items()},
        "instances": {i["DBInstanceIdentifier"]: (i["DBClusterIdentifier"], tags(i)) for i in instances},
        "record": pointed[0] if pointed else value,
        "records": {r.cluster_id: (r.state, r.instance_id, r.source, r.last_error) for r in records},
        "transitions": {
            r.cluster_id: [e.to_state for e in CloneEvent.objects.filter(record=r) if e.from_state != e.to_state]
            for r in records
        },
    }


def assert_consistent(aws):
    """Every clone carries all its tags, the same on cluster and instance; records match the tags."""
    for cluster in aws.rds.describe_db_clusters()["DBClusters"]:
        cid = cluster["DBClusterIdentifier"]
        if cid == "prod-aurora":
            continue
        tags = aws.tags(cid)
        assert set(tags) == {"devdb:managed-by", "devdb:target", "devdb:state", "devdb:state-since", "devdb:source"}
        for member in cluster["DBClusterMembers"]:
            assert aws.instance_tags(member["DBInstanceIdentifier"]) == tags
        record = CloneRecord.objects.get(cluster_id=cid)
        assert record.state == tags["devdb:state"]
        assert record.endpoint == cluster["Endpoint"]


@pytest.fixture
def gateway(aws):
    """New Gateways (one per run) on one boto3 session: building clients is the slow part."""
    session = boto3.session.Session()
    return lambda: Gateway(max_attempts=3, session=session)


def day_one(make_engine, clock, gateway):
    make_engine(gateway=gateway()).refresh()
    clock.advance(days=1)


def test_uninterrupted_refresh_is_the_reference(aws, make_engine, clock, gateway):
    day_one(make_engine, clock, gateway)
    run = gateway()
    calls = Calls(run)
    make_engine(gateway=run).refresh()
    assert calls.made == [(op, what) for op, what, _, _ in BOUNDARIES]
    assert end_state(aws) == REFERENCE
    assert_consistent(aws)


@pytest.mark.parametrize("k, when", CASES)
def test_killed_refresh_resumes_to_the_reference_state(aws, make_engine, clock, gateway, k, when):
    day_one(make_engine, clock, gateway)
    killed = gateway()
    calls = Calls(killed, kill_at=k, when=when)
    with pytest.raises(Killed):
        make_engine(gateway=killed).refresh()
    # It died at the named boundary, after the same calls an uninterrupted run makes.
    expected_prefix = [(op, what) for op, what, _, _ in BOUNDARIES[:k + 1]]
    assert calls.made == expected_prefix

    clock.advance(minutes=7)  # the next run starts a little later
    rerun = gateway()
    resumed = Calls(rerun)
    make_engine(gateway=rerun).refresh()
    assert end_state(aws) == REFERENCE
    assert_consistent(aws)
    # Nothing was done twice: no second restore, instance or delete.
    sent = calls.made[:k + 1] if when == "after" else calls.made[:k]
    done = sent + resumed.made
    for operation in ("RestoreDBClusterToPointInTime", "CreateDBInstance", "ChangeResourceRecordSets",
                      "DeleteDBInstance", "DeleteDBCluster"):
        assert len([c for c in done if c[0] == operation]) == 1, (operation, done)

    # And a further run has nothing left to do.
    again = gateway()
    settled = Calls(again)
    make_engine(gateway=again).refresh()
    assert settled.made == []
    assert end_state(aws) == REFERENCE


def test_killed_after_connecting_with_an_older_ready_clone_keeps_the_name_on_the_newest(aws, make_engine, clock, gateway):
    """Day 2's clone became ready but was never connected; day 3's run dies right after tagging its
    clone connected. The re-run must not move the name back to day 2's (older) ready clone."""
    day_one(make_engine, clock, gateway)
    engine = make_engine(gateway=gateway())
    engine.lookup()
    engine.wait_ready(engine.clone())  # dev-20261123: ready, never connected
    clock.advance(days=1)
    killed = gateway()
    tagged = []

    def die_after_connected_tags(**kwargs):
        tagged.append(1)
        if len(tagged) == 2:  # dev-20261124 ready, then connected (cluster and instance in one call each)
            raise Killed("killed after tagging dev-20261124 connected")

    killed.tagging.meta.events.register("after-call.resource-groups-tagging-api.TagResources", die_after_connected_tags)
    with pytest.raises(Killed):
        make_engine(gateway=killed).refresh()
    assert [aws.tags(c)["devdb:state"] for c in ("dev-20261122", "dev-20261123", "dev-20261124")] == [
        "connected", "ready", "connected"]

    clock.advance(minutes=7)
    make_engine(gateway=gateway()).refresh()
    assert aws.record() == aws.cluster("dev-20261124")["Endpoint"]
    assert aws.cluster_ids() == ["dev-20261124", "prod-aurora"]
    assert aws.tags("dev-20261124")["devdb:state"] == "connected"
    assert dict(CloneRecord.objects.values_list("cluster_id", "state")) == {
        "dev-20261122": "deleted", "dev-20261123": "deleted", "dev-20261124": "connected"}
    assert [e.to_state for e in CloneEvent.objects.filter(record__cluster_id="dev-20261123")
            if e.from_state != e.to_state] == ["created", "ready", "aborted", "deleted"]
