"""A source shared from another account (SOURCE_CLUSTER is its ARN), issue 18.1.

The sandbox (sandbox/aws_rules.py) behaves like AWS: another account's cluster is listed by its ARN only with
IncludeShared, with few fields (no DBClusterIdentifier, no KmsKeyId), and an account holds at most one
cross-account clone of it. The daily job works within that: it deletes the previous clone before restoring.
"""

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command

from devdb import conf
from devdb.aws import Gateway
from devdb.engine import Branch
from devdb.errors import ConfigError
from tests.aws_calls import Requests

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]

PROD_ACCOUNT = "210987654321"
SHARED = f"arn:aws:rds:us-east-1:{PROD_ACCOUNT}:cluster:prod-shared"


@pytest.fixture
def shared_source(aws, devdb_settings, monkeypatch):
    """prod-shared, with its writer, in the production account; the dev target clones it by ARN."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD_ACCOUNT)
    rds = boto3.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="prod-shared", Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.05.2",
                          MasterUsername="admin", MasterUserPassword="prod-password-never-shown")
    rds.create_db_instance(DBInstanceIdentifier="prod-shared-1", DBClusterIdentifier="prod-shared",
                           DBInstanceClass="db.r6g.large", Engine="aurora-mysql")
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = SHARED
    return SHARED


def dev_clusters(aws):
    return [c for c in aws.cluster_ids() if c != "prod-aurora"]


def test_a_shared_cluster_is_listed_only_with_include_shared_and_with_few_fields(aws, shared_source):
    with pytest.raises(ClientError, match="DBClusterNotFoundFault"):
        aws.rds.describe_db_clusters(DBClusterIdentifier=SHARED)
    (entry,) = aws.rds.describe_db_clusters(DBClusterIdentifier=SHARED, IncludeShared=True)["DBClusters"]
    assert "DBClusterIdentifier" not in entry and "KmsKeyId" not in entry
    source = Gateway(max_attempts=1).source(SHARED)  # no KeyError on the missing identifier
    assert (source.id, source.arn, source.engine) == ("prod-shared", SHARED, "aurora-mysql")


def test_an_account_holds_one_cross_account_clone_of_a_cluster(aws, shared_source):
    aws.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="one", SourceDBClusterIdentifier=SHARED,
                                                RestoreType="copy-on-write", UseLatestRestorableTime=True)
    assert aws.cluster("one")["CrossAccountClone"] is True
    with pytest.raises(ClientError, match="Only one cross-account clone"):
        aws.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="two", SourceDBClusterIdentifier=SHARED,
                                                    RestoreType="copy-on-write", UseLatestRestorableTime=True)


def test_every_morning_deletes_the_previous_clone_before_restoring(aws, shared_source, make_engine, clock, caplog):
    for day, clone in enumerate(["dev-20261122", "dev-20261123", "dev-20261124"]):
        gateway = Gateway(max_attempts=3)
        requests = Requests(gateway)
        outcome = make_engine(gateway=gateway).refresh()
        assert outcome.connected == clone
        assert dev_clusters(aws) == [clone]
        assert aws.tags(clone)["devdb:source"] == "prod-shared"
        # Every lookup of the ARN asks for shared clusters.
        asked = [p for p in requests.named("DescribeDBClusters")
                 if SHARED in [p.get("DBClusterIdentifier")] + [v for f in p.get("Filters", []) for v in f["Values"]]]
        assert asked and all(p.get("IncludeShared") is True for p in asked)
        operations = requests.operations()
        if day:  # the previous clone went first, then the restore
            assert operations.index("DeleteDBCluster") < operations.index("RestoreDBClusterToPointInTime")
            assert "is shared from another account and AWS allows one clone of it per account" in caplog.text
        clock.advance(days=1)


def test_a_live_clone_stopped_by_hand_is_started_then_deleted_to_make_room(aws, shared_source, make_engine, clock):
    """The name still points at yesterday's clone when it is deleted to make room; once it is started again
    (it was stopped in the console), the re-check must allow that as the first one did."""
    assert make_engine().refresh().connected == "dev-20261122"
    aws.rds.stop_db_cluster(DBClusterIdentifier="dev-20261122")
    clock.advance(days=1)
    outcome = make_engine().refresh()
    assert outcome.connected == "dev-20261123" and "dev-20261122" in outcome.deleted
    assert dev_clusters(aws) == ["dev-20261123"]


def test_status_states_the_outage(aws, shared_source, make_engine):
    make_engine().refresh()
    report = make_engine().status()
    assert "each refresh deletes the previous clone before restoring" in report["note"]


def test_branches_and_keep_aborted_are_refused_in_one_line(aws, shared_source, devdb_settings):
    settings = conf.get_settings()
    with pytest.raises(ConfigError, match=r"^SOURCE_CLUSTER: target 'dev' clones a cluster shared from another "
                                          r"account \(arn:.*\); AWS allows one clone of it per account, the daily one: no branches$"):
        Branch(settings.targets["dev"], Gateway(max_attempts=1), settings, "feature")
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 2
    problems = [str(p) for p in conf.problems()]
    assert problems == ["DEVDB['TARGETS']['dev']['KEEP_ABORTED']: must be 0 when SOURCE_CLUSTER is an ARN (got 2): AWS "
                        "allows one clone of a cluster shared from another account per account, so none can be kept "
                        "for rollback"]
