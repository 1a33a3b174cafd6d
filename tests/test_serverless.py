"""Aurora Serverless v2: INSTANCE_CLASS = "db.serverless" with SERVERLESS_MIN_ACU / SERVERLESS_MAX_ACU."""

import pytest

from devdb import conf
from devdb.aws import Gateway
from devdb.errors import ConfigError
from tests.aws_calls import Requests
from tests.conftest import target_settings


def only(made, operation):
    found = [params for name, params in made if name == operation]
    assert len(found) == 1, f"{operation}: {len(found)} calls"
    return found[0]


@pytest.mark.django_db(databases="__all__")
def test_serverless_clone_scales_between_the_configured_acus(aws, devdb_settings, make_engine):
    # A minimum of 0 ACUs (auto-pause) needs Aurora MySQL 3.08.0 or later: a source on that version.
    aws.rds.create_db_cluster(DBClusterIdentifier="prod-aurora-308", Engine="aurora-mysql",
                              EngineVersion="8.0.mysql_aurora.3.08.0", MasterUsername="admin", MasterUserPassword="prod-password")
    devdb_settings["TARGETS"]["dev"].update({"INSTANCE_CLASS": "db.serverless", "SERVERLESS_MIN_ACU": 0, "SERVERLESS_MAX_ACU": 2,
                                             "SOURCE_CLUSTER": "prod-aurora-308"})
    gateway = Gateway(max_attempts=3)
    made = Requests(gateway)
    make_engine(gateway=gateway).refresh()

    restore = only(made, "RestoreDBClusterToPointInTime")
    assert restore["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0, "MaxCapacity": 2}
    assert restore["RestoreType"] == "copy-on-write" and restore["UseLatestRestorableTime"] is True
    writer = only(made, "CreateDBInstance")
    assert (writer["DBInstanceIdentifier"], writer["DBClusterIdentifier"], writer["DBInstanceClass"]) == (
        "dev-20261122-1", "dev-20261122", "db.serverless")
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"


@pytest.mark.django_db(databases="__all__")
def test_serverless_defaults_are_half_an_acu_to_four(aws, devdb_settings, make_engine):
    devdb_settings["TARGETS"]["dev"]["INSTANCE_CLASS"] = "db.serverless"
    gateway = Gateway(max_attempts=3)
    made = Requests(gateway)
    make_engine(gateway=gateway).clone()
    assert only(made, "RestoreDBClusterToPointInTime")["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4}


@pytest.mark.django_db(databases="__all__")
def test_provisioned_class_sends_no_scaling_configuration(aws, devdb_settings, make_engine):
    gateway = Gateway(max_attempts=3)
    made = Requests(gateway)
    make_engine(gateway=gateway).clone()
    assert "ServerlessV2ScalingConfiguration" not in only(made, "RestoreDBClusterToPointInTime")
    assert only(made, "CreateDBInstance")["DBInstanceClass"] == "db.t4g.medium"


@pytest.fixture
def config(settings):
    """settings.DEVDB without moto, for validation-only tests."""
    settings.DEVDB = {"DATABASE": "devdb", "TARGETS": {"dev": target_settings("Z0123456789ABC")}}
    return settings.DEVDB


@pytest.mark.parametrize("low, high", [(4, 2), (-1, 4), (0, 0.5), (0.5, 512), ("x", 4)])
def test_bad_acu_range_is_a_config_error(config, low, high):
    config["TARGETS"]["dev"].update({"INSTANCE_CLASS": "db.serverless", "SERVERLESS_MIN_ACU": low, "SERVERLESS_MAX_ACU": high})
    with pytest.raises(ConfigError, match="SERVERLESS_MIN_ACU"):
        conf.get_settings()


def test_acus_from_the_environment_are_numbers(config):
    """The example project passes env values as strings: "0.5" and "8" become 0.5 and 8."""
    config["TARGETS"]["dev"].update({"INSTANCE_CLASS": "db.serverless", "SERVERLESS_MIN_ACU": "0.5", "SERVERLESS_MAX_ACU": "8"})
    target = conf.get_settings().targets["dev"]
    assert target.serverless and (target.serverless_min_acu, target.serverless_max_acu) == (0.5, 8)
