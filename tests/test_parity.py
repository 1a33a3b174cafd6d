"""A clone is configured like its source (issue 9, item 1), and the engine's lower-case identifiers (item 3).

A restore copies only the data: whatever it is not given falls to an AWS default. moto copies some of the
source's configuration on a restore and not the rest, so each test asserts both the request the engine
sent (the `Requests` recorder) and the clone as AWS then describes it.
"""

import json

import pytest
from django.core.management import call_command

from devdb import probes
from devdb.models import CloneEvent, CloneRecord
from tests.aws_calls import recorded_gateway
from tests.test_engine import refresh, state

pytestmark = pytest.mark.django_db(databases="__all__")

ROLE = "arn:aws:iam::123456789012:role/prod-s3-import"


def production_like_source(aws, name="prod-main"):
    """A source configured as production accounts are: its own VPC security group, subnet group, cluster and
    instance parameter groups, port 3307, IAM auth, log exports and an IAM role. Returns what to expect."""
    import boto3

    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
               for n, az in ((1, "a"), (2, "b"))]
    sg = ec2.create_security_group(GroupName="prod-db", Description="app servers to the database", VpcId=vpc)["GroupId"]
    other_sg = ec2.create_security_group(GroupName="dev-db", Description="dev", VpcId=vpc)["GroupId"]
    aws.rds.create_db_subnet_group(DBSubnetGroupName="prod-subnets", DBSubnetGroupDescription="prod", SubnetIds=subnets)
    aws.rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="prod-cluster-params",
                                              DBParameterGroupFamily="aurora-mysql8.0", Description="prod")
    aws.rds.create_db_parameter_group(DBParameterGroupName="prod-instance-params",
                                      DBParameterGroupFamily="aurora-mysql8.0", Description="prod")
    aws.rds.create_db_cluster(
        DBClusterIdentifier=name, Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.05.2",
        MasterUsername="admin", MasterUserPassword="prod-password-never-shown", VpcSecurityGroupIds=[sg],
        DBSubnetGroupName="prod-subnets", DBClusterParameterGroupName="prod-cluster-params", Port=3307,
        EnableIAMDatabaseAuthentication=True, EnableCloudwatchLogsExports=["error", "slowquery"],
    )
    aws.rds.create_db_instance(DBInstanceIdentifier=f"{name}-1", DBClusterIdentifier=name, DBInstanceClass="db.r6g.large",
                               Engine="aurora-mysql", DBParameterGroupName="prod-instance-params")
    aws.rds.add_role_to_db_cluster(DBClusterIdentifier=name, RoleArn=ROLE, FeatureName="s3Import")
    return {"sg": sg, "other_sg": other_sg}


@pytest.fixture
def prod(aws, devdb_settings):
    expected = production_like_source(aws)
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "prod-main"
    return expected


def assert_configured_like_prod(aws, cluster_id, sg, port=3307, cluster_group="prod-cluster-params",
                                instance_group="prod-instance-params"):
    clone = aws.cluster(cluster_id)
    assert [g["VpcSecurityGroupId"] for g in clone["VpcSecurityGroups"]] == [sg]
    assert clone["DBSubnetGroup"] == "prod-subnets"
    assert clone["DBClusterParameterGroup"] == cluster_group
    assert clone["Port"] == port
    assert clone["IAMDatabaseAuthenticationEnabled"] is True
    assert clone["EnabledCloudwatchLogsExports"] == ["error", "slowquery"]
    assert [(r["RoleArn"], r["FeatureName"]) for r in clone["AssociatedRoles"]] == [(ROLE, "s3Import")]
    writer = aws.rds.describe_db_instances(DBInstanceIdentifier=f"{cluster_id}-1")["DBInstances"][0]
    assert [g["DBParameterGroupName"] for g in writer["DBParameterGroups"]] == [instance_group]


def test_a_clone_takes_its_configuration_from_the_source(aws, prod, make_engine):
    requests = refresh(make_engine)

    (restore,) = requests.named("RestoreDBClusterToPointInTime")
    source = aws.cluster("prod-main")
    assert restore["SourceDBClusterIdentifier"] == "prod-main"
    assert restore["VpcSecurityGroupIds"] == [prod["sg"]]
    assert restore["DBSubnetGroupName"] == "prod-subnets"
    assert restore["DBClusterParameterGroupName"] == "prod-cluster-params"
    assert restore["Port"] == 3307
    assert restore["EnableIAMDatabaseAuthentication"] is True
    assert restore["StorageType"] == source["StorageType"]
    assert restore["EnableCloudwatchLogsExports"] == ["error", "slowquery"]
    assert "KmsKeyId" not in restore and "EngineLifecycleSupport" not in restore
    (create,) = requests.named("CreateDBInstance")
    assert create["DBParameterGroupName"] == "prod-instance-params"
    # Roles are added once the clone is available (a restore does not copy them).
    assert requests.named("AddRoleToDBCluster") == [
        {"DBClusterIdentifier": "dev-20261122", "RoleArn": ROLE, "FeatureName": "s3Import"}]
    ops = requests.operations()
    assert ops.index("AddRoleToDBCluster") > ops.index("CreateDBInstance")

    assert_configured_like_prod(aws, "dev-20261122", prod["sg"])
    assert state(aws, "dev-20261122") == "connected"
    # The source is only read.
    for op, params in requests.mutating():
        names = [params.get("DBClusterIdentifier"), params.get("DBInstanceIdentifier"), *params.get("ResourceARNList", ())]
        assert not [n for n in names if n and n.rsplit(":", 1)[-1].startswith("prod-main")], (op, params)
    # The record says so: the event of becoming ready carries the parity line.
    ready = CloneEvent.objects.get(record__cluster_id="dev-20261122", to_state="ready", from_state="created")
    assert ready.message.endswith("; configured like prod-main")


def test_settings_override_the_source_and_the_difference_is_shown(aws, prod, devdb_settings, make_engine):
    aws.rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="dev-cluster-params",
                                              DBParameterGroupFamily="aurora-mysql8.0", Description="dev")
    aws.rds.create_db_parameter_group(DBParameterGroupName="dev-instance-params",
                                      DBParameterGroupFamily="aurora-mysql8.0", Description="dev")
    devdb_settings["TARGETS"]["dev"].update(
        VPC_SECURITY_GROUP_IDS=[prod["other_sg"]], DB_CLUSTER_PARAMETER_GROUP="dev-cluster-params",
        DB_PARAMETER_GROUP="dev-instance-params", PORT=3308, KMS_KEY_ID="arn:aws:kms:us-east-1:123456789012:key/dev",
        ENGINE_LIFECYCLE_SUPPORT="open-source-rds-extended-support-disabled",
    )
    requests = refresh(make_engine)
    (restore,) = requests.named("RestoreDBClusterToPointInTime")
    assert restore["VpcSecurityGroupIds"] == [prod["other_sg"]]
    assert restore["DBClusterParameterGroupName"] == "dev-cluster-params"
    assert restore["Port"] == 3308
    assert restore["DBSubnetGroupName"] == "prod-subnets"  # not overridden: the source's
    assert restore["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/dev"
    assert restore["EngineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    (create,) = requests.named("CreateDBInstance")
    assert create["DBParameterGroupName"] == "dev-instance-params"
    assert_configured_like_prod(aws, "dev-20261122", prod["other_sg"], port=3308, cluster_group="dev-cluster-params",
                                instance_group="dev-instance-params")

    report = make_engine().status()
    (clone,) = report["clones"]
    assert clone["like_source"] is False
    assert clone["parity"] == (
        f"differs from prod-main: security groups {prod['other_sg']} (source {prod['sg']}; VPC_SECURITY_GROUP_IDS); "
        "cluster parameter group dev-cluster-params (source prod-cluster-params; DB_CLUSTER_PARAMETER_GROUP); "
        "port 3308 (source 3307; PORT); "
        "writer parameter group dev-instance-params (source prod-instance-params; DB_PARAMETER_GROUP)")


def test_status_shows_a_clone_that_drifted_from_its_source(aws, prod, make_engine, capsys):
    refresh(make_engine)
    aws.rds.modify_db_cluster(DBClusterIdentifier="dev-20261122", Port=3306, ApplyImmediately=True)
    call_command("status_devdb")
    text = capsys.readouterr().out
    assert "  dev-20261122: differs from prod-main: port 3306 (source 3307)" in text.splitlines()
    call_command("status_devdb", "--json")
    (clone,) = json.loads(capsys.readouterr().out)["targets"][0]["clones"]
    assert clone["parity"] == "differs from prod-main: port 3306 (source 3307)"
    assert clone["like_source"] is False


def test_serverless_clone_gets_its_scaling_with_auto_pause(aws, prod, devdb_settings, make_engine):
    # Auto-pause (a 0 ACU minimum) needs Aurora MySQL 3.08 or later: preflight refuses it on older versions.
    aws.rds.modify_db_cluster(DBClusterIdentifier="prod-main", EngineVersion="8.0.mysql_aurora.3.08.0", ApplyImmediately=True)
    devdb_settings["TARGETS"]["dev"].update(INSTANCE_CLASS="db.serverless", SERVERLESS_MIN_ACU=0,
                                            SERVERLESS_MAX_ACU=8, SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE=600)
    requests = refresh(make_engine)
    (restore,) = requests.named("RestoreDBClusterToPointInTime")
    assert restore["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0, "MaxCapacity": 8, "SecondsUntilAutoPause": 600}


def test_probes_use_the_clones_real_port(aws, prod, devdb_settings, make_engine, monkeypatch):
    devdb_settings["TARGETS"]["dev"]["READINESS_PROBE"] = "sql"
    ports = []
    monkeypatch.setattr(probes, "sql_ready", lambda host, *, timeout, port=None, **_: ports.append(port))
    refresh(make_engine)
    assert ports == [3307]


# --- lower case ----------------------------------------------------------------------------------


def test_a_capitalised_prefix_makes_one_lower_case_clone_a_day(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["CLONE_PREFIX"] = "Dev"
    refresh(make_engine)
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    tags = aws.tags("dev-20261122")
    clock.advance(hours=2)
    requests = refresh(make_engine)
    assert requests.mutating() == []
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.tags("dev-20261122") == tags and tags["devdb:state"] == "connected"
    assert CloneRecord.objects.get().cluster_id == "dev-20261122"


def test_rollback_names_and_old_records_compare_case_insensitively(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"].update(CLONE_PREFIX="Dev", KEEP_ABORTED=1)
    refresh(make_engine)
    clock.advance(days=1)
    refresh(make_engine)
    engine = make_engine()
    engine.preflight()
    engine.lookup(also=["DEV-20261122"])
    engine.connect(to="DEV-20261122")
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]
    # A record written by an older version under the capitalised name is the same clone.
    CloneRecord.objects.filter(cluster_id="dev-20261123").update(cluster_id="Dev-20261123")
    clock.advance(hours=1)
    gateway, requests = recorded_gateway()
    # Today's clone, recorded under its capitalised name, is found: no second restore; and it was
    # rolled back from (not failed), so the refresh has nothing to do (issue 11, point 9).
    outcome = make_engine(gateway=gateway).refresh()
    assert outcome.error is None and outcome.created == []
    assert "RestoreDBClusterToPointInTime" not in [op for op, _ in requests.mutating()]
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]


def test_a_source_named_in_capitals_is_still_protected(aws, devdb_settings, make_engine):
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "PROD-AURORA"
    gateway, requests = recorded_gateway()
    make_engine(gateway=gateway).refresh()
    for op, params in requests.mutating():
        assert "prod-aurora" not in [v.rsplit(":", 1)[-1].lower() for v in params.values() if isinstance(v, str)
                                     and op != "RestoreDBClusterToPointInTime"], (op, params)
    assert state(aws, "dev-20261122") == "connected"
    assert "devdb:state" not in aws.tags("prod-aurora")




def test_a_writer_left_incompatible_parameters_aborts_the_clone_naming_db_parameter_group(aws, devdb_settings,
                                                                                            make_engine, clock):
    """Issue 18.6: the production writer's DB parameter group (tuned for its db.r6g.large) on the clone's
    db.t4g.medium leaves the writer incompatible-parameters for good: the clone is aborted at once (not
    waited on until READY_TIMEOUT), deleted, and the failure names DB_PARAMETER_GROUP."""
    from devdb.errors import CloneFailed
    from tests.test_sandbox_aws import big_buffer_pool

    big_buffer_pool(aws.rds)
    with pytest.raises(CloneFailed) as failed:
        make_engine().refresh()
    message = str(failed.value)
    assert message == ("clone dev-20261122 aborted: AWS reports writer dev-20261122-1 incompatible-parameters: DB "
                       "parameter group prod-aurora-instance does not fit db.t4g.medium (memory settings sized for a "
                       "larger class?); set DB_PARAMETER_GROUP to a group made for db.t4g.medium")
    assert clock.sleeps == [] or sum(clock.sleeps) < 60  # not waited on
    assert aws.cluster_ids() == ["prod-aurora"]  # aborted and deleted: nothing left running
    assert CloneRecord.objects.get(cluster_id="dev-20261122").state == "deleted"

    # With DB_PARAMETER_GROUP naming a group made for the small class, the next morning's clone works.
    aws.rds.create_db_parameter_group(DBParameterGroupName="dev-small", DBParameterGroupFamily="aurora-mysql8.0",
                                      Description="for db.t4g.medium")
    devdb_settings["TARGETS"]["dev"]["DB_PARAMETER_GROUP"] = "dev-small"
    clock.advance(days=1)
    make_engine().refresh()
    writer = aws.rds.describe_db_instances(DBInstanceIdentifier="dev-20261123-1")["DBInstances"][0]
    assert writer["DBInstanceStatus"] == "available"
    assert writer["DBParameterGroups"][0]["DBParameterGroupName"] == "dev-small"
