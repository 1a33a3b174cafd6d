"""AWS's limits, checked before the first change (issue 18.2 and 18.4): identifier lengths, the case of
SOURCE_CLUSTER, Aurora's 15 copy-on-write clones per source, Serverless v2's maximum capacity per version."""

from datetime import date

import pytest

from devdb import conf, lifecycle, preflight
from devdb.aws import Cluster, Gateway
from devdb.engine import Branch
from devdb.errors import ConfigError
from tests.aws_calls import Requests

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]


# --- identifier lengths ----------------------------------------------------------------------------------


def test_the_longest_prefix_makes_every_daily_id_fit(aws, make_engine, devdb_settings, clock):
    """A 52-character prefix: the clone is 61 characters, its writer 63; the whole morning works."""
    prefix = "p" * 52
    devdb_settings["TARGETS"]["dev"]["CLONE_PREFIX"] = prefix
    outcome = make_engine().refresh()
    clone = lifecycle.clone_name(prefix, date(2026, 11, 22))
    assert outcome.connected == clone
    assert f"{clone}-1" in aws.instance_ids() and len(f"{clone}-1") == 63


def test_a_branch_name_whose_reset_writer_is_too_long_is_refused_before_any_call(aws, devdb_settings):
    """<prefix>-<NAME>-rYYMMDDhhmmss is 63 characters here, but its writer (-1) would be 65."""
    devdb_settings["TARGETS"]["dev"]["CLONE_PREFIX"] = "p" * 40
    settings = conf.get_settings()
    gateway = Gateway(max_attempts=1)
    calls = Requests(gateway)
    with pytest.raises(ConfigError, match=r"^NAME: branch feature1 of 'dev' would have writers named "
                                          r"p{40}-feature1-rYYMMDDhhmmss-1, which must be at most 63 characters \(got 65\)"):
        Branch(settings.targets["dev"], gateway, settings, "feature1")
    assert calls == []
    Branch(settings.targets["dev"], gateway, settings, "feat1")  # 62 characters at most: fine


def test_the_sandbox_refuses_an_identifier_longer_than_aws_allows(aws):
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError, match="InvalidParameterValue"):
        aws.rds.create_db_instance(DBInstanceIdentifier="i" * 64, DBClusterIdentifier="prod-aurora",
                                   DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")


# --- SOURCE_CLUSTER's case ----------------------------------------------------------------------------------


def test_source_cluster_in_capitals_is_looked_up_and_restored_in_lower_case(aws, make_engine, devdb_settings):
    """AWS stores identifiers in lower case and DescribeDBClusters' filter values are case-sensitive."""
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "Prod-Aurora"
    assert conf.get_settings().targets["dev"].source_cluster == "prod-aurora"
    gateway = Gateway(max_attempts=3)
    requests = Requests(gateway)
    make_engine(gateway=gateway).refresh()
    filters = [f["Values"] for p in requests.named("DescribeDBClusters") for f in p.get("Filters", [])]
    assert filters and all(v == v.lower() for values in filters for v in values)
    assert "prod-aurora" in filters[0]
    (restore,) = requests.named("RestoreDBClusterToPointInTime")
    assert restore["SourceDBClusterIdentifier"] == "prod-aurora"


def test_an_arn_source_keeps_its_arn_with_the_name_in_lower_case(devdb_settings):
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "arn:aws:rds:us-east-1:210987654321:cluster:Prod-Aurora"
    target = conf.get_settings().targets["dev"]
    assert target.source_cluster == "arn:aws:rds:us-east-1:210987654321:cluster:prod-aurora"
    assert target.source_id == "prod-aurora"


# --- Aurora's 15 copy-on-write clones per source --------------------------------------------------------------


def test_a_sixteenth_clone_of_the_source_is_refused_before_the_restore(aws, make_engine):
    """15 clones of prod-aurora exist (someone else's): today's would be a full copy, so it is refused."""
    for n in range(15):
        aws.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=f"other-clone-{n:02d}", SourceDBClusterIdentifier=
                                                    "prod-aurora", RestoreType="copy-on-write", UseLatestRestorableTime=True)
    group = aws.cluster("prod-aurora")["CloneGroupId"]
    assert group and aws.cluster("other-clone-00")["CloneGroupId"] == group
    gateway = Gateway(max_attempts=3)
    requests = Requests(gateway)
    with pytest.raises(ConfigError, match=r"^SOURCE_CLUSTER: prod-aurora already has 15 clones \(other-clone-00, "
                                          r".*Aurora makes at most 15 copy-on-write clones"):
        make_engine(gateway=gateway).refresh()
    assert requests.mutating() == []


def test_fourteen_clones_leave_room_for_todays(aws, make_engine):
    for n in range(14):
        aws.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=f"other-clone-{n:02d}", SourceDBClusterIdentifier=
                                                    "prod-aurora", RestoreType="copy-on-write", UseLatestRestorableTime=True)
    assert make_engine().refresh().connected == "dev-20261122"


# --- Serverless v2's maximum per engine version ---------------------------------------------------------------


def source_at(engine, version):
    return Cluster(id="prod-aurora", arn="arn:aws:rds:us-east-1:123456789012:cluster:prod-aurora", status="available",
                   endpoint=None, port=None, engine=engine, engine_version=version)


@pytest.mark.parametrize("engine, version, allowed", [
    ("aurora-mysql", "8.0.mysql_aurora.3.05.2", False),
    ("aurora-mysql", "8.0.mysql_aurora.3.06.0", True),
    ("aurora-postgresql", "13.12", False),
    ("aurora-postgresql", "13.13", True),
    ("aurora-postgresql", "14.9", False),
    ("aurora-postgresql", "14.10", True),
    ("aurora-postgresql", "15.4", False),
    ("aurora-postgresql", "15.5", True),
    ("aurora-postgresql", "16.0", False),
    ("aurora-postgresql", "16.1", True),
    ("aurora-postgresql", "17.4", True),
])
def test_more_than_128_acus_only_on_versions_that_allow_256(devdb_settings, engine, version, allowed):
    devdb_settings["TARGETS"]["dev"].update(INSTANCE_CLASS="db.serverless", SERVERLESS_MAX_ACU=200)
    target = conf.get_settings().targets["dev"]
    if allowed:
        preflight.check_serverless(target, source_at(engine, version))
    else:
        with pytest.raises(ConfigError, match=r"^SERVERLESS_MAX_ACU: 200 is above 128, the most "):
            preflight.check_serverless(target, source_at(engine, version))
    devdb_settings["TARGETS"]["dev"]["SERVERLESS_MAX_ACU"] = 128
    preflight.check_serverless(conf.get_settings().targets["dev"], source_at(engine, version))
