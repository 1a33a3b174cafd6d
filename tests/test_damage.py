"""Damage done by hand is repaired by the next run, and said (issue 18.9): a deleted CNAME, a deleted
connected clone, a deleted writer, a devdb:state tag edited to something that is no state."""

import logging

import pytest
from botocore.exceptions import ClientError

from devdb.aws import Gateway
from devdb.errors import DevdbError
from tests.test_aws_errors import Faults, access_denied

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]

TODAY = "dev-20261122"


def warnings(caplog):
    return [r.getMessage().removeprefix("[dev] ") for r in caplog.records if r.levelno == logging.WARNING]


def delete_record(aws, name="db.dev.example.com"):
    sets = aws.route53.list_resource_record_sets(HostedZoneId=aws.zone_id)["ResourceRecordSets"]
    (record,) = [r for r in sets if r["Name"] == name + "." and r["Type"] == "CNAME"]
    aws.route53.change_resource_record_sets(HostedZoneId=aws.zone_id, ChangeBatch={
        "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})


def set_state_tag(aws, resource_arn, value):
    aws.rds.add_tags_to_resource(ResourceName=resource_arn, Tags=[{"Key": "devdb:state", "Value": value}])


def test_a_deleted_cname_is_made_again_the_same_day(aws, make_engine, caplog):
    make_engine().refresh()
    delete_record(aws)
    assert aws.record() is None
    outcome = make_engine().refresh()
    assert aws.record() == aws.cluster(TODAY)["Endpoint"]
    assert outcome.connected == TODAY
    assert "db.dev.example.com does not exist (deleted by hand?) but dev-20261122 is connected: pointing it there " \
           "again" in warnings(caplog)


def test_a_deleted_connected_clone_is_cloned_again_the_same_day(aws, make_engine, caplog):
    make_engine().refresh()
    aws.rds.delete_db_instance(DBInstanceIdentifier=f"{TODAY}-1", SkipFinalSnapshot=True)
    aws.rds.delete_db_cluster(DBClusterIdentifier=TODAY, SkipFinalSnapshot=True)
    # moto keeps the automated snapshot AWS deletes with the cluster; its name would collide with the new clone's.
    for snapshot in aws.rds.describe_db_cluster_snapshots(DBClusterIdentifier=TODAY)["DBClusterSnapshots"]:
        aws.rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"])
    outcome = make_engine().refresh()
    assert outcome.connected == TODAY and outcome.created == [TODAY]
    assert aws.tags(TODAY)["devdb:state"] == "connected"
    # AWS's endpoint is <id>.cluster-<hash of account and region>: the same for the new clone (moto draws a new hash).
    assert aws.record().split(".")[0] == aws.cluster(TODAY)["Endpoint"].split(".")[0] == TODAY
    assert any("no longer exists (deleted outside django-devdb?): cloning again" in w for w in warnings(caplog))


def test_a_deleted_writer_is_created_again(aws, make_engine, caplog):
    make_engine().refresh()
    aws.rds.delete_db_instance(DBInstanceIdentifier=f"{TODAY}-1", SkipFinalSnapshot=True)
    assert f"{TODAY}-1" not in aws.instance_ids()
    make_engine().refresh()
    assert f"{TODAY}-1" in aws.instance_ids()
    assert aws.instance_tags(f"{TODAY}-1")["devdb:state"] == "connected"
    assert f"{TODAY} has no writer instance {TODAY}-1 (deleted by hand?): creating it again" in warnings(caplog)


def test_a_writer_that_cannot_be_created_again_fails_the_run(aws, make_engine):
    make_engine().refresh()
    aws.rds.delete_db_instance(DBInstanceIdentifier=f"{TODAY}-1", SkipFinalSnapshot=True)
    gateway = Gateway(max_attempts=1)
    Faults(gateway).fail("CreateDBInstance", access_denied)
    with pytest.raises(DevdbError, match=f"^{TODAY} has no writer instance and {TODAY}-1 could not be created again: "
                                         "AWS CreateDBInstance failed: AccessDenied"):
        make_engine(gateway=gateway).refresh()
    assert aws.tags(TODAY)["devdb:state"] == "connected"  # the clone itself is left as it is


def test_an_unknown_state_on_the_live_clone_becomes_connected_and_is_never_copied(aws, make_engine, caplog):
    make_engine().refresh()
    set_state_tag(aws, aws.cluster(TODAY)["DBClusterArn"], "conected")
    make_engine().refresh()
    assert aws.tags(TODAY)["devdb:state"] == "connected"
    assert aws.instance_tags(f"{TODAY}-1")["devdb:state"] == "connected"
    assert any("has devdb:state 'conected', which is not a django-devdb state (edited by hand?)" in w
               for w in warnings(caplog))


def test_an_unknown_state_elsewhere_becomes_aborted_and_is_cleaned(aws, make_engine, clock, caplog):
    make_engine().refresh()
    clock.advance(days=1)
    make_engine().refresh()  # dev-20261123 connected, dev-20261122 deleted
    aws.rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="dev-20261120", SourceDBClusterIdentifier="prod-aurora", RestoreType="copy-on-write",
        UseLatestRestorableTime=True, Tags=[{"Key": k, "Value": v} for k, v in {
            "devdb:managed-by": "django-devdb", "devdb:target": "dev", "devdb:state": "keep-me",
            "devdb:state-since": "2026-11-20T05:00:00Z", "devdb:source": "prod-aurora"}.items()])
    outcome = make_engine().refresh()
    assert "dev-20261120" in outcome.deleted
    assert "dev-20261120" not in aws.cluster_ids()
    assert any("dev-20261120 has devdb:state 'keep-me'" in w and "so it is tagged aborted" in w for w in warnings(caplog))
