"""Property: clean deletes exactly the deletable clones of an arbitrary account, and nothing else.

Each example builds a fresh moto account: clusters named like clones with random subsets of our tags
(target dev or another one, any state, state-since before or after the grace), writer instances
tagged or not, now and then a foreign instance inside a clone, the source cluster mis-tagged as an
aborted clone of ours, an unrelated cluster, the stable name pointing at a random cluster (or nowhere),
a random CLEAN_GRACE and KEEP_ABORTED, and some clones recorded as having failed before they were
ever ready (no rollback target, so never kept). The expected set is computed independently from
what the account holds.
"""

import os
from datetime import timedelta, timezone
from unittest import mock

import boto3
import pytest
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings as hsettings, strategies as st
from moto import mock_aws

from devdb import conf, history, lifecycle
from devdb.aws import Gateway
from devdb.engine import Engine
from devdb.models import CloneEvent, CloneRecord
from devdb_sandbox.moto_server import CREDENTIALS, seed
from tests.conftest import START, FakeClock

pytestmark = pytest.mark.django_db(databases="__all__")

NOW = START + timedelta(days=30)
TODAY = NOW.date()
# Hypothesis starts from (and shrinks towards) the first choice: make that the deletable case.
STATES = ["aborted", "created", "ready", "connected"]

clone_spec = st.fixed_dictionaries({
    "days_ago": st.integers(min_value=1, max_value=60),
    "managed": st.sampled_from([True] * 6 + [False]),
    "target": st.sampled_from(["dev"] * 6 + ["qa", None]),
    "state": st.sampled_from(STATES + ["aborted"] * 4 + [None]),
    # seconds before NOW the state was set (negative: a clock ahead of ours); None: no tag
    "since": st.one_of(st.integers(min_value=-600, max_value=3 * 86400), st.none()),
    "source_tag": st.booleans(),
    "writer": st.sampled_from(["tagged", "tagged", "untagged", None]),
    "foreign_instance": st.sampled_from([False] * 5 + [True]),
    "never_ready": st.sampled_from([False, False, False, True]),
})

account_spec = st.fixed_dictionaries({
    "clones": st.lists(clone_spec, min_size=3, max_size=7, unique_by=lambda c: c["days_ago"]),
    "source_mistagged": st.booleans(),
    # -3: nowhere, -2: the source, -1: the unrelated cluster, n >= 0: the n-th dev-* cluster
    "points_at": st.one_of(st.sampled_from([-3, -2, -1]), st.integers(min_value=0, max_value=5)),
    "grace": st.one_of(st.sampled_from([0, 60, 3600]), st.integers(min_value=0, max_value=3 * 86400)),
    "keep": st.sampled_from([0, 0, 1, 2, 3]),
})

_session = []


def session():
    if not _session:
        _session.append(boto3.session.Session())
    return _session[0]


def tags_for(spec):
    tags = {}
    if spec["managed"]:
        tags["devdb:managed-by"] = "django-devdb"
    if spec["target"]:
        tags["devdb:target"] = spec["target"]
    if spec["state"]:
        tags["devdb:state"] = spec["state"]
    if spec["since"] is not None:
        tags["devdb:state-since"] = lifecycle.format_time(NOW - timedelta(seconds=spec["since"]))
    if spec["source_tag"]:
        tags["devdb:source"] = "prod-aurora"
    return tags


def as_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def build(rds, route53, zone_id, spec):
    """Create the account; return the id of the cluster the name points at (or None)."""
    for clone in spec["clones"]:
        cid = f"dev-{TODAY - timedelta(days=clone['days_ago']):%Y%m%d}"
        tags = tags_for(clone)
        rds.create_db_cluster(DBClusterIdentifier=cid, Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="password1", Tags=as_list(tags))
        if clone["writer"]:
            rds.create_db_instance(DBInstanceIdentifier=f"{cid}-1", DBClusterIdentifier=cid,
                                   DBInstanceClass="db.t4g.medium", Engine="aurora-mysql",
                                   Tags=as_list(tags) if clone["writer"] == "tagged" else [])
        if clone["foreign_instance"]:
            rds.create_db_instance(DBInstanceIdentifier=f"{cid}-analytics", DBClusterIdentifier=cid,
                                   DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
        if clone["never_ready"]:
            history.mirror(target="dev", cluster_id=cid, state="created", at=NOW - timedelta(days=clone["days_ago"]))
            history.mirror(target="dev", cluster_id=cid, state="aborted", at=NOW - timedelta(days=clone["days_ago"]),
                           error="failed")
    rds.create_db_cluster(DBClusterIdentifier="billing", Engine="aurora-mysql", MasterUsername="admin",
                          MasterUserPassword="password2", Tags=[{"Key": "team", "Value": "billing"}])
    if spec["source_mistagged"]:
        arn = rds.describe_db_clusters(DBClusterIdentifier="prod-aurora")["DBClusters"][0]["DBClusterArn"]
        rds.add_tags_to_resource(ResourceName=arn, Tags=as_list({
            "devdb:managed-by": "django-devdb", "devdb:target": "dev", "devdb:state": "aborted",
            "devdb:state-since": "2020-01-01T00:00:00Z", "devdb:source": "prod-aurora"}))
    index = spec["points_at"]
    ids = sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
                 if c["DBClusterIdentifier"].startswith("dev-"))
    pointed = {-3: None, -2: "prod-aurora", -1: "billing"}[index] if index < 0 else ids[index % len(ids)]
    if pointed:
        endpoint = rds.describe_db_clusters(DBClusterIdentifier=pointed)["DBClusters"][0]["Endpoint"]
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {
                "Name": "db.dev.example.com", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": endpoint}]}}]})
    return pointed


def read_account(rds):
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    instances = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    return clusters, instances


def tag_dict(item):
    return {t["Key"]: t["Value"] for t in item.get("TagList", [])}


def expected_deletions(clusters, instances, pointed, grace, keep_count):
    """The rules of SPEC "Safety rules" and `clean_devdb`, written out independently of the engine."""

    def since(cluster):
        parsed = lifecycle.parse_time(tag_dict(cluster).get("devdb:state-since"))
        return parsed or cluster["ClusterCreateTime"].astimezone(timezone.utc)

    ours = {cid: c for cid, c in clusters.items()
            if tag_dict(c).get("devdb:managed-by") == "django-devdb" and tag_dict(c).get("devdb:target") == "dev"
            and cid != "prod-aurora"}
    aborted = [cid for cid, c in ours.items() if tag_dict(c).get("devdb:state") == "aborted"]
    # KEEP_ABORTED: the most recently aborted clones that were ready once (rollback targets).
    candidates = sorted((cid for cid in aborted if not history.never_ready(cid)),
                        key=lambda cid: (since(ours[cid]), cid))
    kept = set(candidates[-keep_count:]) if keep_count else set()
    foreign = {i["DBClusterIdentifier"] for iid, i in instances.items()
               if iid != i["DBClusterIdentifier"] + "-1"
               and not (tag_dict(i).get("devdb:managed-by") == "django-devdb" and tag_dict(i).get("devdb:target") == "dev")}
    # The DNS grace protects clients that resolved the name: a clone the records show never connected has none.
    never_live = {cid for cid in aborted if CloneRecord.objects.filter(cluster_id=cid).exists()
                  and not CloneEvent.objects.filter(record__cluster_id=cid, to_state="connected").exists()}
    return {cid for cid in aborted
            if since(ours[cid]) <= NOW - timedelta(seconds=0 if cid in never_live else grace)
            and cid != pointed and cid not in kept and cid not in foreign}


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(spec=account_spec)
def test_clean_deletes_exactly_the_deletable_clones(spec):
    CloneEvent.objects.all().delete()
    CloneRecord.objects.all().delete()
    with mock.patch.dict(os.environ, CREDENTIALS), mock_aws():
        rds, route53 = session().client("rds"), session().client("route53")
        zone_id = seed(rds, route53)
        pointed = build(rds, route53, zone_id, spec)
        devdb = {
            "DATABASE": "devdb",
            "TARGETS": {"dev": {
                "SOURCE_CLUSTER": "prod-aurora", "HOSTED_ZONE_ID": zone_id, "RECORD_NAME": "db.dev.example.com",
                "INSTANCE_CLASS": "db.t4g.medium", "CLEAN_GRACE": spec["grace"], "KEEP_ABORTED": spec["keep"],
            }},
            "POLL_INITIAL": 5, "POLL_MAX": 30,
        }
        with override_settings(DEVDB=devdb):
            before_clusters, before_instances = read_account(rds)
            expected = expected_deletions(before_clusters, before_instances, pointed, spec["grace"], spec["keep"])
            settings = conf.get_settings()
            engine = Engine(settings.targets["dev"], Gateway(max_attempts=2, session=session()), settings,
                            clock=FakeClock(NOW))
            engine.lookup()
            deleted = engine.clean()

        after_clusters, after_instances = read_account(rds)
        event("deletes some" if expected else "deletes none")
        assert set(deleted) == expected
        assert set(before_clusters) - set(after_clusters) == expected
        assert "prod-aurora" in after_clusters and "billing" in after_clusters
        # Instances go only with their (deleted) cluster ...
        gone = set(before_instances) - set(after_instances)
        assert gone == {iid for iid, i in before_instances.items() if i["DBClusterIdentifier"] in expected}
        # ... and nothing that survives was re-tagged.
        for cid, cluster in after_clusters.items():
            assert tag_dict(cluster) == tag_dict(before_clusters[cid]), cid
        for iid, instance in after_instances.items():
            assert tag_dict(instance) == tag_dict(before_instances[iid]), iid
        records = dict(CloneRecord.objects.values_list("cluster_id", "state"))
        assert {cid for cid, state in records.items() if state == "deleted"} == expected
