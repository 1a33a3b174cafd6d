"""The sandbox's AWS simulation holds AWS's rules where moto is lenient (sandbox/aws_rules.py).

The always-on data rules are checked in-process (`aws`) and over HTTP (`moto_server`); the realistic
mode's timing and state rules over HTTP (`realistic_moto_server`, delays scaled down, throttling off
except where it is the subject).
"""

import os
import time
import urllib.request
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devdb_sandbox import aws_rules
from devdb_sandbox.moto_server import seed

pytestmark = pytest.mark.e2e

RESTORE = {"SourceDBClusterIdentifier": "prod-aurora", "RestoreType": "copy-on-write", "UseLatestRestorableTime": True}


def default_security_group(ec2):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                   {"Name": "group-name", "Values": ["default"]}])
    return groups["SecurityGroups"][0]["GroupId"]


@pytest.fixture(params=["in-process", "server"])
def plain(request):
    """An account with the always-on rules, in-process and on the (non-realistic) server."""
    if request.param == "in-process":
        account = request.getfixturevalue("aws")
        return SimpleNamespace(rds=account.rds, route53=account.route53, ec2=boto3.client("ec2"),
                               source=account.zone_id.source, configure=aws_rules.SIM.configure)
    server = request.getfixturevalue("moto_server")
    server.reset()
    rds, route53 = server.client("rds"), server.client("route53")
    seeded = seed(rds, route53)
    return SimpleNamespace(rds=rds, route53=route53, ec2=server.client("ec2"), source=seeded.source,
                           configure=server.configure)


@pytest.fixture
def real(realistic_moto_server):
    """A fresh account on the realistic server, seeded, with throttling off and delays a fifth of the sandbox's."""
    server = realistic_moto_server
    server.reset()
    server.configure(throttle=0, scale=0.2)
    rds, route53 = server.client("rds"), server.client("route53")
    seeded = seed(rds, route53)
    return SimpleNamespace(server=server, rds=rds, route53=route53, zone_id=seeded, source=seeded.source,
                           tagging=server.client("resourcegroupstaggingapi"), scale=server.configure()["scale"])


def cluster_status(rds, cluster_id):
    return rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]["Status"]


def instance_status(rds, instance_id):
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["DBInstanceStatus"]


def watch(read, until, timeout=20):
    """The distinct values read() returns, polled every 50 ms until `until` (a value or a predicate)."""
    done = until if callable(until) else (lambda value: value == until)
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if not seen or seen[-1] != value:
            seen.append(value)
        if done(value):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"still {seen[-1]!r} after {timeout}s (seen {seen})")


def gone(read):
    try:
        return read()
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def restore_available(real, cluster_id, **params):
    real.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=cluster_id, **RESTORE, **params)
    watch(lambda: cluster_status(real.rds, cluster_id), "available")


def clone_with_writer(real, cluster_id):
    restore_available(real, cluster_id)
    real.rds.create_db_instance(DBInstanceIdentifier=f"{cluster_id}-1", DBClusterIdentifier=cluster_id,
                                DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
    watch(lambda: instance_status(real.rds, f"{cluster_id}-1"), "available")


# --- always on: what AWS returns -----------------------------------------------------------------------

def test_the_seeded_source_is_configured_like_production(plain):
    source = plain.rds.describe_db_clusters(DBClusterIdentifier="prod-aurora")["DBClusters"][0]
    assert source["Port"] == 3307
    assert source["DBSubnetGroup"] == "prod-aurora-subnets"
    assert source["DBClusterParameterGroup"] == "prod-aurora-cluster"
    assert source["IAMDatabaseAuthenticationEnabled"] is True
    assert source["StorageType"] == "aurora-iopt1"
    assert source["EnabledCloudwatchLogsExports"] == ["error", "slowquery"]
    assert [r["RoleArn"] for r in source["AssociatedRoles"]] == plain.source["AssociatedRoles"]
    groups = sorted(g["VpcSecurityGroupId"] for g in source["VpcSecurityGroups"])
    assert groups == plain.source["VpcSecurityGroupIds"] and len(groups) == 2
    assert default_security_group(plain.ec2) not in groups
    writer = plain.rds.describe_db_instances(DBInstanceIdentifier="prod-aurora-1")["DBInstances"][0]
    assert writer["DBParameterGroups"][0]["DBParameterGroupName"] == "prod-aurora-instance"
    assert writer["Endpoint"]["Port"] == 3307


def test_a_restore_copies_none_of_the_sources_configuration(plain):
    plain.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE)
    clone = plain.rds.describe_db_clusters(DBClusterIdentifier="dev-1")["DBClusters"][0]
    assert [g["VpcSecurityGroupId"] for g in clone["VpcSecurityGroups"]] == [default_security_group(plain.ec2)]
    assert clone["DBClusterParameterGroup"] == "default.aurora-mysql8.0"
    assert clone["DBSubnetGroup"] == "default"
    assert clone["Port"] == 3306
    assert clone["IAMDatabaseAuthenticationEnabled"] is False
    assert clone["StorageType"] == "aurora"
    assert clone.get("EnabledCloudwatchLogsExports", []) == []
    assert clone.get("AssociatedRoles", []) == []
    assert clone["EngineLifecycleSupport"] == "open-source-rds-extended-support"
    assert (clone["Engine"], clone["EngineVersion"]) == ("aurora-mysql", "8.0.mysql_aurora.3.05.2")


def test_a_restore_honours_and_echoes_what_the_request_passes(plain):
    source = plain.source
    plain.rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="dev-1", **RESTORE, VpcSecurityGroupIds=source["VpcSecurityGroupIds"],
        DBSubnetGroupName="prod-aurora-subnets", DBClusterParameterGroupName="prod-aurora-cluster", Port=3307,
        EnableIAMDatabaseAuthentication=True, StorageType="aurora-iopt1",
        EnableCloudwatchLogsExports=["error", "slowquery"], EngineLifecycleSupport="open-source-rds-extended-support-disabled",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 8},
    )
    clone = plain.rds.describe_db_clusters(DBClusterIdentifier="dev-1")["DBClusters"][0]
    assert sorted(g["VpcSecurityGroupId"] for g in clone["VpcSecurityGroups"]) == source["VpcSecurityGroupIds"]
    assert (clone["DBSubnetGroup"], clone["DBClusterParameterGroup"], clone["Port"]) == (
        "prod-aurora-subnets", "prod-aurora-cluster", 3307)
    assert clone["IAMDatabaseAuthenticationEnabled"] is True
    assert clone["StorageType"] == "aurora-iopt1"
    assert clone["EnabledCloudwatchLogsExports"] == ["error", "slowquery"]
    assert clone["EngineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert clone["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 8}


def test_an_instance_without_a_parameter_group_gets_its_family_default_and_the_cluster_port(plain):
    plain.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE, Port=3307)
    plain.rds.describe_db_clusters(DBClusterIdentifier="dev-1")  # moto's instant mode: available once read
    item = plain.rds.create_db_instance(DBInstanceIdentifier="dev-1-1", DBClusterIdentifier="dev-1",
                                        DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")["DBInstance"]
    assert [g["DBParameterGroupName"] for g in item["DBParameterGroups"]] == ["default.aurora-mysql8.0"]
    writer = plain.rds.describe_db_instances(DBInstanceIdentifier="dev-1-1")["DBInstances"][0]
    assert writer["Endpoint"]["Port"] == 3307


def test_an_aurora_postgresql_source_and_its_clone(plain):
    seeded = seed(plain.rds, plain.route53, source="prod-pg", zone="pg.example.com", engine="aurora-postgresql")
    assert seeded.source["Port"] == 5433
    assert seeded.source["DBClusterParameterGroup"] == "prod-pg-cluster"
    assert seeded.source["EngineVersion"].startswith("16.")
    plain.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-pg", SourceDBClusterIdentifier="prod-pg",
                                                  RestoreType="copy-on-write", UseLatestRestorableTime=True)
    clone = plain.rds.describe_db_clusters(DBClusterIdentifier="dev-pg")["DBClusters"][0]
    assert (clone["Engine"], clone["Port"], clone["DBClusterParameterGroup"]) == (
        "aurora-postgresql", 5432, "default.aurora-postgresql16")


def test_orderable_instance_options_for_aurora(plain):
    def options(**filters):
        found, marker = [], None
        while True:
            page = plain.rds.describe_orderable_db_instance_options(MaxRecords=20, **filters,
                                                                    **({"Marker": marker} if marker else {}))
            found += page["OrderableDBInstanceOptions"]
            assert len(page["OrderableDBInstanceOptions"]) <= 20
            if not (marker := page.get("Marker")):
                return found

    mysql = options(Engine="aurora-mysql")
    assert len(mysql) > 40  # more than two pages
    assert {"db.t4g.medium", "db.r6g.large", "db.r7g.large", "db.serverless"} <= {o["DBInstanceClass"] for o in mysql}
    serverless = {o["EngineVersion"] for o in options(Engine="aurora-mysql", DBInstanceClass="db.serverless")}
    assert serverless and all(v.startswith("8.0.mysql_aurora.3.") and v >= "8.0.mysql_aurora.3.02" for v in serverless)
    assert not options(Engine="aurora-mysql", EngineVersion="5.7.mysql_aurora.2.11.5", DBInstanceClass="db.serverless")
    medium = options(Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.05.2", DBInstanceClass="db.t4g.medium")
    assert {(o["EngineVersion"], o["DBInstanceClass"]) for o in medium} == {("8.0.mysql_aurora.3.05.2", "db.t4g.medium")}
    assert {o["StorageType"] for o in medium} == {"aurora", "aurora-iopt1"}
    postgresql = options(Engine="aurora-postgresql", EngineVersion="16.4")
    assert "db.serverless" in {o["DBInstanceClass"] for o in postgresql}
    assert not options(Engine="aurora-mysql", DBInstanceClass="db.x99.huge")


def test_account_attributes_report_the_cluster_quota(plain):
    def quota():
        quotas = plain.rds.describe_account_attributes()["AccountQuotas"]
        return next((q["Used"], q["Max"]) for q in quotas if q["AccountQuotaName"] == "DBClusters")

    clusters = len(plain.rds.describe_db_clusters()["DBClusters"])
    assert quota() == (clusters, 40)
    plain.configure(cluster_quota=clusters)
    assert quota() == (clusters, clusters)


# --- realistic mode: AWS's timing and state rules -------------------------------------------------------

def test_the_seeded_source_is_available_at_once_in_realistic_mode(real):
    assert cluster_status(real.rds, "prod-aurora") == "available"
    assert instance_status(real.rds, "prod-aurora-1") == "available"
    assert real.source["Port"] == 3307


def test_a_restored_cluster_is_creating_and_refuses_its_writer_until_available(real):
    restored = real.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE)["DBCluster"]
    assert restored["Status"] == "creating"
    with pytest.raises(ClientError) as refused:
        real.rds.create_db_instance(DBInstanceIdentifier="dev-1-1", DBClusterIdentifier="dev-1",
                                    DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
    assert refused.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    started = time.monotonic()
    assert watch(lambda: cluster_status(real.rds, "dev-1"), "available") == ["creating", "available"]
    assert time.monotonic() - started > aws_rules.DELAYS["cluster-creating"] * real.scale / 2
    real.rds.create_db_instance(DBInstanceIdentifier="dev-1-1", DBClusterIdentifier="dev-1",
                                DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")


def test_the_history_holds_when_each_change_took_effect_not_when_it_was_noticed(real):
    """GET /moto-api/devdb/history: a benchmark's measure of AWS's own readiness (poll lag)."""
    before = time.time()
    real.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE)
    creating = aws_rules.DELAYS["cluster-creating"] * real.scale
    time.sleep(2 * creating)  # nobody asks while it becomes available
    assert cluster_status(real.rds, "dev-1") == "available"
    change = real.route53.change_resource_record_sets(HostedZoneId=real.zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": "db.dev.example.com", "Type": "CNAME", "TTL": 60,
                                                  "ResourceRecords": [{"Value": "x.example.com"}]}}]})["ChangeInfo"]
    history = [e for e in real.server.history() if e["at"] >= before]  # seeding's came before
    assert [(e["resource"], e["status"]) for e in history if e["type"] == "request"] == [
        ("RestoreDBClusterToPointInTime", "200"), ("ChangeResourceRecordSets", "200")]
    history = [e for e in history if e["type"] != "request"]
    cluster = [(e["status"], e["at"]) for e in history if e["resource"] == "dev-1"]
    assert [status for status, _ in cluster] == ["creating", "available"]
    assert before <= cluster[0][1] and cluster[1][1] - cluster[0][1] == pytest.approx(creating, abs=0.05)
    pending = aws_rules.DELAYS["dns-pending"] * real.scale
    dns = [(e["status"], e["at"]) for e in history if e["resource"] == change["Id"].rsplit("/", 1)[-1]]
    assert [status for status, _ in dns] == ["PENDING", "INSYNC"] and all(e["type"] == "change" for e in history[-2:])
    assert dns[1][1] - dns[0][1] == pytest.approx(pending, abs=0.01)
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    real.server.reset()
    assert real.server.history() == []


def test_an_instance_goes_creating_backing_up_available(real):
    restore_available(real, "dev-1")
    item = real.rds.create_db_instance(DBInstanceIdentifier="dev-1-1", DBClusterIdentifier="dev-1",
                                       DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")["DBInstance"]
    assert item["DBInstanceStatus"] == "creating"
    assert watch(lambda: instance_status(real.rds, "dev-1-1"), "available") == ["creating", "backing-up", "available"]


def big_buffer_pool(rds, group="prod-aurora-instance"):
    """The production writer's group (db.r6g.large, 16 GiB) with a buffer pool of 12 GiB, as tuned by hand."""
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[{
        "ParameterName": "innodb_buffer_pool_size", "ParameterValue": str(12 * 2**30), "ApplyMethod": "pending-reboot"}])


def test_a_writer_whose_parameter_group_does_not_fit_its_class_is_incompatible_parameters(real):
    big_buffer_pool(real.rds)
    restore_available(real, "dev-1")
    real.rds.create_db_instance(DBInstanceIdentifier="dev-1-1", DBClusterIdentifier="dev-1", Engine="aurora-mysql",
                                DBInstanceClass="db.t4g.medium", DBParameterGroupName="prod-aurora-instance")
    assert watch(lambda: instance_status(real.rds, "dev-1-1"), "incompatible-parameters") == [
        "creating", "incompatible-parameters"]
    # The same group on a class with room for it, or a formula that scales with the class, is fine.
    real.rds.create_db_instance(DBInstanceIdentifier="dev-1-2", DBClusterIdentifier="dev-1", Engine="aurora-mysql",
                                DBInstanceClass="db.r6g.xlarge", DBParameterGroupName="prod-aurora-instance")
    assert watch(lambda: instance_status(real.rds, "dev-1-2"), "available")[-1] == "available"


def test_the_incompatible_parameters_rule_is_always_on(plain):
    big_buffer_pool(plain.rds)
    plain.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE)
    plain.rds.create_db_instance(DBInstanceIdentifier="dev-1-1", DBClusterIdentifier="dev-1",
                                 Engine="aurora-mysql", DBInstanceClass="db.t4g.medium",
                                 DBParameterGroupName="prod-aurora-instance")
    assert instance_status(plain.rds, "dev-1-1") == "incompatible-parameters"


def test_a_deleted_instance_lingers_and_a_second_delete_is_refused(real):
    clone_with_writer(real, "dev-1")
    item = real.rds.delete_db_instance(DBInstanceIdentifier="dev-1-1", SkipFinalSnapshot=True)["DBInstance"]
    assert item["DBInstanceStatus"] == "deleting"
    with pytest.raises(ClientError) as refused:
        real.rds.delete_db_instance(DBInstanceIdentifier="dev-1-1", SkipFinalSnapshot=True)
    assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    assert "already being deleted" in refused.value.response["Error"]["Message"]
    seen = watch(lambda: gone(lambda: instance_status(real.rds, "dev-1-1")), "DBInstanceNotFound")
    assert seen == ["deleting", "DBInstanceNotFound"]


def test_a_cluster_is_deleted_only_once_its_instances_are_deleting_and_vanishes_after_them(real):
    clone_with_writer(real, "dev-1")
    with pytest.raises(ClientError) as refused:
        real.rds.delete_db_cluster(DBClusterIdentifier="dev-1", SkipFinalSnapshot=True)
    assert refused.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    real.server.configure(scale=0.5)  # the cluster lingers 1.5 s after its instance: room to see it under load
    real.rds.delete_db_instance(DBInstanceIdentifier="dev-1-1", SkipFinalSnapshot=True)
    deleted = real.rds.delete_db_cluster(DBClusterIdentifier="dev-1", SkipFinalSnapshot=True)["DBCluster"]
    assert deleted["Status"] == "deleting"
    order = []
    watch(lambda: order.append((gone(lambda: cluster_status(real.rds, "dev-1")),
                                gone(lambda: instance_status(real.rds, "dev-1-1")))) or order[-1],
          ("DBClusterNotFoundFault", "DBInstanceNotFound"))
    assert ("deleting", "DBInstanceNotFound") in order  # the instance went first; the cluster lingered
    assert ("DBClusterNotFoundFault", "deleting") not in order


def test_a_password_change_passes_through_resetting_master_credentials(real):
    restore_available(real, "dev-1")
    real.server.configure(scale=0.5)  # "a moment" of 0.5 s: long enough to read the status once under load
    real.rds.modify_db_cluster(DBClusterIdentifier="dev-1", MasterUserPassword="a-new-password-1",
                               ApplyImmediately=True)
    assert cluster_status(real.rds, "dev-1") == "available"  # not yet: a client must not assume it sees the reset
    seen = watch(lambda: cluster_status(real.rds, "dev-1"), "resetting-master-credentials")
    assert seen == ["available", "resetting-master-credentials"]
    assert watch(lambda: cluster_status(real.rds, "dev-1"), "available") == ["resetting-master-credentials", "available"]


def test_a_stopped_cluster_refuses_instances_and_starts_again(real):
    clone_with_writer(real, "dev-1")
    real.rds.stop_db_cluster(DBClusterIdentifier="dev-1")
    assert watch(lambda: cluster_status(real.rds, "dev-1"), "stopped") == ["stopping", "stopped"]
    assert instance_status(real.rds, "dev-1-1") == "stopped"
    with pytest.raises(ClientError) as refused:
        real.rds.create_db_instance(DBInstanceIdentifier="dev-1-2", DBClusterIdentifier="dev-1",
                                    DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
    assert refused.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    assert real.rds.start_db_cluster(DBClusterIdentifier="dev-1")["DBCluster"]["Status"] == "starting"
    assert watch(lambda: cluster_status(real.rds, "dev-1"), "available") == ["starting", "available"]
    assert instance_status(real.rds, "dev-1-1") == "available"


def test_a_route53_change_is_pending_for_a_while(real):
    change = real.route53.change_resource_record_sets(HostedZoneId=real.zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": "db.dev.example.com", "Type": "CNAME", "TTL": 5,
                                                  "ResourceRecords": [{"Value": "dev-1.example.com"}]}}]})["ChangeInfo"]
    assert change["Status"] == "PENDING"
    assert watch(lambda: real.route53.get_change(Id=change["Id"])["ChangeInfo"]["Status"], "INSYNC") == [
        "PENDING", "INSYNC"]


def test_get_resources_lags_behind_tag_changes_and_new_resources(real):
    real.server.configure(scale=1)  # a 3-second lag: the window observed stays open on a loaded machine
    def tagged(key, value):
        pages = real.tagging.get_resources(ResourceTypeFilters=["rds:cluster"], TagFilters=[{"Key": key, "Values": [value]}])
        return sorted(m["ResourceARN"].rsplit(":", 1)[-1] for m in pages["ResourceTagMappingList"])

    assert tagged("team", "prod") == ["prod-aurora"]  # seeding is visible at once
    arn = real.rds.describe_db_clusters(DBClusterIdentifier="prod-aurora")["DBClusters"][0]["DBClusterArn"]
    real.rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "team", "Value": "platform"}])
    real.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE,
                                                 Tags=[{"Key": "team", "Value": "platform"}])
    assert tagged("team", "platform") == [] and tagged("team", "prod") == ["prod-aurora"]
    assert watch(lambda: tagged("team", "platform"), ["dev-1", "prod-aurora"])[0] == []
    assert tagged("team", "prod") == []


def test_a_share_of_calls_is_throttled_with_each_services_error_and_botocore_retries_them(real):
    server = real.server
    once = Config(retries={"mode": "standard", "total_max_attempts": 1})

    def client(service, config=once):
        return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=config)

    server.configure(throttle=1.0)
    calls = {"rds": lambda c: c.describe_db_clusters(),
             "route53": lambda c: c.get_hosted_zone(Id=real.zone_id),
             "resourcegroupstaggingapi": lambda c: c.get_resources()}
    codes = {"rds": "Throttling", "route53": "Throttling", "resourcegroupstaggingapi": "ThrottledException"}
    for service, call in calls.items():
        with pytest.raises(ClientError) as throttled:
            call(client(service))
        assert throttled.value.response["Error"]["Code"] == codes[service]
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    throttled = [e["resource"] for e in server.history() if e["type"] == "throttled"]
    assert throttled == ["rds", "route53", "tagging"]  # in the history, by the service's signing name
    with pytest.raises(ClientError) as retried:  # standard mode knows the code: it retries, then gives up
        client("rds", Config(retries={"mode": "standard", "total_max_attempts": 2})).describe_db_clusters()
    assert retried.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    urllib.request.urlopen(f"{server.url}/moto-api/").read()  # the control endpoints never are

    def pattern():
        server.configure(throttle=0.3, seed=7)
        outcome = []
        for _ in range(30):
            try:
                client("rds").describe_db_clusters()
                outcome.append(False)
            except ClientError:
                outcome.append(True)
        return outcome

    first = pattern()
    assert first == pattern()  # deterministic for a seed
    assert 0 < sum(first) < 30
    server.configure(throttle=0.3, seed=7)
    patient = client("rds", Config(retries={"mode": "standard", "total_max_attempts": 10}))
    for _ in range(5):
        patient.describe_db_clusters()


def test_reset_clears_the_realistic_state_and_the_settings(real):
    server = real.server
    server.configure(cluster_quota=1, throttle=0.5, seed=3)
    real.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="dev-1", **RESTORE)
    server.reset()
    fresh = aws_rules.Simulation()  # the settings the server's environment gives
    assert server.configure() == {**fresh.settings(), "realistic": True,
                                  "scale": float(os.environ.get("DEVDB_SANDBOX_SCALE", "0.25"))}
    server.configure(throttle=0)
    assert real.rds.describe_db_clusters()["DBClusters"] == []
