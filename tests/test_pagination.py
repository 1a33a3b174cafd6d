"""Listings follow every page (Marker / PaginationToken), and lookup reads tags from TagList.

botocore's Stubber stands in for AWS on the Gateway's clients: it answers each call in order, checks
the parameters it was sent, and fails on any call it was not told about (so a stray
ListTagsForResource would fail the test). 250 clones come back over three pages, as real AWS pages
at 100.
"""

from datetime import date, timedelta

import pytest
from botocore.stub import Stubber

from devdb import conf
from devdb.aws import Gateway
from devdb.engine import Engine
from tests.aws_calls import Requests
from tests.conftest import START, FakeClock

pytestmark = pytest.mark.django_db(databases="__all__")

ACCOUNT = "123456789012"
TAG_FILTERS = [{"Key": "devdb:managed-by", "Values": ["django-devdb"]}, {"Key": "devdb:target", "Values": ["dev"]}]
TODAY = "dev-20261122"
# 250 clones, one a day up to today (the names sort like the days)
IDS = [f"dev-{date(2026, 11, 22) - timedelta(days=n):%Y%m%d}" for n in range(250)][::-1]


@pytest.fixture
def gateway(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    gateway = Gateway(max_attempts=1)
    # The Stubber answers in before-call ahead of the Gateway's own counter: count the calls here.
    gateway.requests = Requests(gateway)
    stubs = {"rds": Stubber(gateway.rds), "tagging": Stubber(gateway.tagging), "route53": Stubber(gateway.route53)}
    for stub in stubs.values():
        stub.activate()
    gateway.stubs = stubs
    yield gateway
    for stub in stubs.values():
        stub.deactivate()


def arn(cluster_id):
    return f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{cluster_id}"


def tags(cluster_id):
    state = "created" if cluster_id == TODAY else "aborted"
    return [{"Key": "devdb:managed-by", "Value": "django-devdb"}, {"Key": "devdb:target", "Value": "dev"},
            {"Key": "devdb:state", "Value": state}, {"Key": "devdb:state-since", "Value": "2026-11-22T05:00:00Z"},
            {"Key": "devdb:source", "Value": "prod-aurora"}, {"Key": "team", "Value": "qa"}]


def cluster_item(cluster_id):
    return {"DBClusterIdentifier": cluster_id, "DBClusterArn": arn(cluster_id), "Status": "available",
            "Endpoint": f"{cluster_id}.cluster-abc.us-east-1.rds.amazonaws.com", "Port": 3306,
            "Engine": "aurora-mysql", "EngineVersion": "8.0.mysql_aurora.3.05.2", "TagList": tags(cluster_id)}


def instance_item(cluster_id):
    return {"DBInstanceIdentifier": f"{cluster_id}-1", "DBClusterIdentifier": cluster_id,
            "DBInstanceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{cluster_id}-1", "DBInstanceStatus": "available",
            "TagList": tags(cluster_id)}


def pages(items, size):
    return [items[start:start + size] for start in range(0, len(items), size)]


def stub_get_resources(gateway, ids, page_size=100):
    chunks = pages(ids, page_size)
    for n, chunk in enumerate(chunks):
        params = {"ResourceTypeFilters": ["rds:cluster"], "TagFilters": TAG_FILTERS}
        if n:
            params["PaginationToken"] = f"token-{n}"
        response = {"ResourceTagMappingList": [{"ResourceARN": arn(cid), "Tags": tags(cid)} for cid in chunk],
                    "PaginationToken": f"token-{n + 1}" if n + 1 < len(chunks) else ""}
        gateway.stubs["tagging"].add_response("get_resources", response, params)


def stub_describe(gateway, operation, ids, key, make, split_first=None):
    """One filtered (paginated) listing per 100 ids; the first one split over two pages by a Marker."""
    for n, chunk in enumerate(pages(sorted(ids), 100)):
        filters = [{"Name": "db-cluster-id", "Values": chunk}]
        parts = [chunk] if not (n == 0 and split_first) else [chunk[:split_first], chunk[split_first:]]
        for m, part in enumerate(parts):
            params = {"Filters": filters}
            if m:
                params["Marker"] = f"{operation}-{n}-{m}"
            response = {key: [make(cid) for cid in part]}
            if m + 1 < len(parts):
                response["Marker"] = f"{operation}-{n}-{m + 1}"
            gateway.stubs["rds"].add_response(operation, response, params)


def test_get_resources_follows_pagination_tokens(gateway):
    stub_get_resources(gateway, IDS)
    assert gateway.tagged_cluster_ids("dev") == IDS
    assert gateway.requests.operations() == ["GetResources"] * 3
    gateway.stubs["tagging"].assert_no_pending_responses()


def test_describe_db_clusters_and_instances_follow_markers(gateway):
    stub_describe(gateway, "describe_db_clusters", IDS, "DBClusters", cluster_item, split_first=60)
    stub_describe(gateway, "describe_db_instances", IDS, "DBInstances", instance_item, split_first=30)
    clusters = gateway.clusters(IDS)
    assert [c.id for c in clusters] == sorted(IDS)
    assert all([i.id for i in c.instances] == [c.id + "-1"] for c in clusters)
    assert gateway.requests.operations() == ["DescribeDBClusters"] * 4 + ["DescribeDBInstances"] * 4
    gateway.stubs["rds"].assert_no_pending_responses()


def test_instances_follow_markers(gateway):
    stub_describe(gateway, "describe_db_instances", IDS, "DBInstances", instance_item, split_first=99)
    instances = gateway.instances(IDS)
    assert sorted(i.id for i in instances) == sorted(c + "-1" for c in IDS)
    assert len(instances) == 250
    gateway.stubs["rds"].assert_no_pending_responses()


def make_engine(gateway, settings):
    settings.DEVDB = {"DATABASE": "devdb", "TARGETS": {"dev": {
        "SOURCE_CLUSTER": "prod-aurora", "HOSTED_ZONE_ID": "Z0123456789ABC", "RECORD_NAME": "db.dev.example.com",
        "INSTANCE_CLASS": "db.t4g.medium"}}}
    parsed = conf.get_settings()
    return Engine(parsed.targets["dev"], gateway, parsed, clock=FakeClock(START))


def test_lookup_of_250_clones_reads_tags_from_taglist_without_list_tags_calls(gateway, settings):
    engine = make_engine(gateway, settings)
    assert engine.today == TODAY
    stub_get_resources(gateway, IDS)
    described = IDS + ["prod-aurora"]  # the same calls read the source and its writer
    stub_describe(gateway, "describe_db_clusters", described, "DBClusters", cluster_item, split_first=50)
    stub_describe(gateway, "describe_db_instances", described, "DBInstances", instance_item)
    clones = engine.lookup()
    assert sorted(clones) == sorted(IDS)
    assert clones[TODAY].tags["devdb:state"] == "created"
    assert clones[TODAY].tags["team"] == "qa"
    assert clones[IDS[0]].tags["devdb:state"] == "aborted"
    assert clones[TODAY].instances[0].tags["devdb:state"] == "created"
    assert "ListTagsForResource" not in gateway.requests.operations()
    assert gateway.requests.operations() == ["GetResources"] * 3 + ["DescribeDBClusters"] * 4 + ["DescribeDBInstances"] * 3
    for stub in gateway.stubs.values():
        stub.assert_no_pending_responses()


def test_lookup_describes_only_the_tagged_clusters_and_todays_name(gateway, settings):
    """Only the tag API is asked which clusters are ours; the rest of the account is never listed."""
    engine = make_engine(gateway, settings)
    ours = ["dev-20261120", "dev-20261121"]
    stub_get_resources(gateway, ours)
    wanted = sorted(ours + [TODAY])  # today's name is always looked at
    described = sorted(wanted + ["prod-aurora"])  # ... and the source, with its writer, in the same calls
    stub_describe(gateway, "describe_db_clusters", described, "DBClusters", cluster_item)
    stub_describe(gateway, "describe_db_instances", described, "DBInstances", instance_item)
    assert sorted(engine.lookup()) == wanted
    assert gateway.requests.operations() == ["GetResources", "DescribeDBClusters", "DescribeDBInstances"]
    for stub in gateway.stubs.values():
        stub.assert_no_pending_responses()
