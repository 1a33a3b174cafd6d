"""Preflight refuses, in one line naming the setting and before any AWS change, what AWS would refuse
only after the clone is paid for (issue 9, points 5, 6 and 9).

moto (in-process) lacks answers for DescribeOrderableDBInstanceOptions and DescribeAccountAttributes:
`answer()` gives them on one gateway's client the way AWS would (a botocore before-call hook, the
same mechanism moto itself uses), so each call is still made and counted.
"""

import logging
import re
from types import SimpleNamespace

import pytest

from devdb import preflight
from devdb.aws import Gateway
from devdb.errors import ConfigError
from tests.aws_calls import Requests, account_state

pytestmark = pytest.mark.django_db(databases="__all__")

RECORD = "db.dev.example.com"
SOURCE_VERSION = "8.0.mysql_aurora.3.05.2"  # the seeded source's


def answer(gateway, operation, response):
    """Answer an RDS operation on this gateway as AWS would (moto has no answer for it)."""
    def respond(model, **_):
        if model.name == operation:
            return SimpleNamespace(status_code=200, headers={}), response
        return None

    gateway.rds.meta.events.register("before-call", respond)  # after the gateway's own call counter


def orderable(*classes, engine="aurora-mysql", version=SOURCE_VERSION):
    return {"OrderableDBInstanceOptions": [
        {"Engine": engine, "EngineVersion": version, "DBInstanceClass": c, "StorageType": storage, "Vpc": True}
        for c in classes for storage in ("aurora", "aurora-iopt1")]}


def quota(used, limit):
    return {"AccountQuotas": [{"AccountQuotaName": "DBInstances", "Used": 1, "Max": 40},
                              {"AccountQuotaName": "DBClusters", "Used": used, "Max": limit}]}


def gateway(classes=("db.t4g.medium", "db.r6g.large", "db.serverless"), clusters=(1, 40)):
    """A gateway on moto whose preflight questions get AWS-like answers."""
    made = Gateway(max_attempts=3)
    answer(made, "DescribeOrderableDBInstanceOptions", orderable(*classes))
    answer(made, "DescribeAccountAttributes", quota(*clusters))
    return made


def refused(aws, engine, match):
    """engine.refresh() fails with one ConfigError line matching `match`, and AWS is as it was."""
    before = account_state(aws)
    with pytest.raises(ConfigError, match=match) as info:
        engine.refresh()
    assert "\n" not in str(info.value)
    assert account_state(aws) == before
    return str(info.value)


def add_record(aws, name=RECORD, **record_set):
    aws.route53.change_resource_record_sets(HostedZoneId=aws.zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": name, **record_set}}]})


# --- point 5: the stable name ------------------------------------------------------------------


@pytest.mark.parametrize("record_set, held_by", [
    ({"Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.7"}]}, "a record of type A"),
    ({"Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"owner=dba"'}]}, "a record of type TXT"),
    ({"Type": "CNAME", "SetIdentifier": "blue", "Weight": 0, "TTL": 60, "ResourceRecords": [{"Value": "blue.example.org"}]},
     r"a CNAME record with a routing policy \(SetIdentifier, Weight\)"),
    ({"Type": "CNAME", "SetIdentifier": "eu", "Region": "eu-west-1", "TTL": 60, "ResourceRecords": [{"Value": "eu.example.org"}]},
     r"a CNAME record with a routing policy \(SetIdentifier, Region\)"),
    ({"Type": "CNAME", "SetIdentifier": "any", "GeoLocation": {"CountryCode": "*"}, "TTL": 60,
      "ResourceRecords": [{"Value": "geo.example.org"}]}, r"a CNAME record with a routing policy \(SetIdentifier, GeoLocation\)"),
])
def test_a_name_route53_would_not_let_a_cname_replace_is_refused_before_any_change(aws, make_engine, record_set, held_by):
    add_record(aws, **record_set)
    line = refused(aws, make_engine(gateway=gateway()), "RECORD_NAME")
    assert line.startswith(f"RECORD_NAME: {RECORD} is held by ")
    assert re.search(f"is held by {held_by} in hosted zone ", line), line


def test_an_alias_on_the_name_is_refused_before_any_change(aws, make_engine):
    add_record(aws, "lb.dev.example.com", Type="A", TTL=60, ResourceRecords=[{"Value": "10.0.0.8"}])
    add_record(aws, Type="A", AliasTarget={"HostedZoneId": aws.zone_id, "DNSName": "lb.dev.example.com",
                                           "EvaluateTargetHealth": False})
    line = refused(aws, make_engine(gateway=gateway()), "RECORD_NAME")
    assert "is held by an alias record of type A (to lb.dev.example.com)" in line


def test_an_alias_cname_is_named_as_an_alias(aws, make_engine):
    add_record(aws, "app.dev.example.com", Type="A", TTL=60, ResourceRecords=[{"Value": "10.0.0.8"}])
    add_record(aws, Type="CNAME", AliasTarget={"HostedZoneId": aws.zone_id, "DNSName": "app.dev.example.com",
                                               "EvaluateTargetHealth": False})
    line = refused(aws, make_engine(gateway=gateway()), "RECORD_NAME")
    assert "is held by an alias record of type CNAME (to app.dev.example.com)" in line


def test_a_plain_cname_elsewhere_or_records_below_the_name_do_not_block(aws, make_engine):
    add_record(aws, Type="CNAME", TTL=60, ResourceRecords=[{"Value": "legacy-db.example.org"}])
    add_record(aws, "replica.db.dev.example.com", Type="A", TTL=60, ResourceRecords=[{"Value": "10.0.0.9"}])
    make_engine(gateway=gateway()).refresh()
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]


def test_the_name_is_read_in_one_call_and_record_value_from_the_same_one(aws, make_engine):
    add_record(aws, Type="CNAME", TTL=60, ResourceRecords=[{"Value": "Legacy-DB.example.org."}])
    made = gateway()
    engine = make_engine(gateway=made)
    assert preflight.check_stable_name(made, engine.target) == "legacy-db.example.org"
    assert made.record_value(aws.zone_id, RECORD) == "legacy-db.example.org"
    assert made.operations == ["ListResourceRecordSets", "ListResourceRecordSets"]


# --- point 6: classes, capacity, quotas --------------------------------------------------------


def test_an_instance_class_the_source_version_does_not_offer_is_refused(aws, make_engine):
    line = refused(aws, make_engine(gateway=gateway(classes=("db.r6g.large", "db.r7g.large"))), "INSTANCE_CLASS")
    assert line == ("INSTANCE_CLASS: db.t4g.medium is not offered for aurora-mysql 8.0.mysql_aurora.3.05.2 "
                    "(source prod-aurora); offered: db.r6g.large, db.r7g.large")


def test_the_checks_ask_about_the_sources_engine_and_cost_two_calls_only_when_a_clone_is_made(aws, make_engine, clock):
    made = gateway()
    requests = Requests(made)
    make_engine(gateway=made).refresh()
    assert requests.named("DescribeOrderableDBInstanceOptions") == [{"Engine": "aurora-mysql", "EngineVersion": SOURCE_VERSION, "Vpc": True, "MaxRecords": 1000}]
    assert made.operations.count("DescribeOrderableDBInstanceOptions") == 1
    assert made.operations.count("DescribeAccountAttributes") == 1
    assert made.operations.count("ListResourceRecordSets") == 1 + 1  # preflight, then the live read before moving it

    again = gateway()
    make_engine(gateway=again).refresh()  # the same morning: nothing to create
    assert "DescribeOrderableDBInstanceOptions" not in again.operations
    assert "DescribeAccountAttributes" not in again.operations


@pytest.mark.parametrize("keep, used, limit, ok", [
    (0, 38, 40, True),    # today's clone and the one it replaces
    (0, 39, 40, False),
    (2, 36, 40, True),    # ... and two kept for rollback
    (2, 37, 40, False),
])
def test_the_cluster_quota_must_hold_the_daily_clones(aws, devdb_settings, make_engine, keep, used, limit, ok):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = keep
    engine = make_engine(gateway=gateway(clusters=(used, limit)))
    if ok:
        engine.refresh()
        assert "dev-20261122" in aws.cluster_ids()
    else:
        line = refused(aws, engine, "KEEP_ABORTED")
        assert f"({used} of {limit} used)" in line and f"KEEP_ABORTED={keep}" in line


def test_existing_clones_count_as_already_there(aws, make_engine, clock):
    make_engine(gateway=gateway(clusters=(1, 40))).refresh()
    clock.advance(days=1)
    # Two clusters now (source, yesterday's clone); one free slot is enough for today's.
    make_engine(gateway=gateway(clusters=(39, 40))).refresh()
    assert aws.tags("dev-20261123")["devdb:state"] == "connected"


def test_unanswered_questions_warn_and_let_the_clone_go_ahead(aws, make_engine, caplog):
    caplog.set_level(logging.WARNING, logger="devdb")
    made = Gateway(max_attempts=3)  # RDS lists no classes and no quotas (as plain moto did)
    answer(made, "DescribeOrderableDBInstanceOptions", {"OrderableDBInstanceOptions": []})
    answer(made, "DescribeAccountAttributes", {"AccountQuotas": []})
    make_engine(gateway=made).refresh()
    assert "dev-20261122" in aws.cluster_ids()
    assert "INSTANCE_CLASS not checked: RDS lists no instance classes for aurora-mysql" in caplog.text
    assert "DBClusters quota not checked" in caplog.text


def aurora_mysql_2(aws, devdb_settings):
    aws.rds.create_db_cluster(DBClusterIdentifier="legacy-aurora", Engine="aurora-mysql",
                              EngineVersion="5.7.mysql_aurora.2.11.2", MasterUsername="admin", MasterUserPassword="prod-password")
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "legacy-aurora"


def test_serverless_needs_aurora_mysql_3_02(aws, devdb_settings, make_engine):
    aurora_mysql_2(aws, devdb_settings)
    devdb_settings["TARGETS"]["dev"]["INSTANCE_CLASS"] = "db.serverless"
    line = refused(aws, make_engine(gateway=gateway()), "INSTANCE_CLASS")
    assert line == ("INSTANCE_CLASS: db.serverless needs Aurora MySQL 3.2 or later; "
                    "source legacy-aurora runs 5.7.mysql_aurora.2.11.2")


def test_zero_acus_only_where_the_version_can_auto_pause(aws, devdb_settings, make_engine):
    devdb_settings["TARGETS"]["dev"].update({"INSTANCE_CLASS": "db.serverless", "SERVERLESS_MIN_ACU": 0})
    line = refused(aws, make_engine(gateway=gateway()), "SERVERLESS_MIN_ACU")
    assert line.startswith("SERVERLESS_MIN_ACU: 0 (auto-pause) is not available on aurora-mysql 8.0.mysql_aurora.3.05.2")


@pytest.mark.parametrize("engine, version, pauses", [
    ("aurora-mysql", "8.0.mysql_aurora.3.07.1", False),
    ("aurora-mysql", "8.0.mysql_aurora.3.08.0", True),
    ("aurora-mysql", "8.0.mysql_aurora.3.10.1", True),
    ("aurora-postgresql", "13.14", False), ("aurora-postgresql", "13.15", True),
    ("aurora-postgresql", "14.11", False), ("aurora-postgresql", "14.12", True),
    ("aurora-postgresql", "15.6", False), ("aurora-postgresql", "15.7", True),
    ("aurora-postgresql", "16.2", False), ("aurora-postgresql", "16.3", True),
    ("aurora-postgresql", "17.4", True), ("aurora-postgresql", "12.22", False),
])
def test_auto_pause_versions(engine, version, pauses):
    assert preflight.supports_auto_pause(engine, preflight.aurora_version(engine, version)) is pauses


def test_an_aurora_mysql_2_source_is_cloned_with_an_extended_support_warning(aws, devdb_settings, make_engine, caplog):
    aurora_mysql_2(aws, devdb_settings)
    caplog.set_level(logging.WARNING, logger="devdb")
    make_engine(gateway=gateway()).refresh()
    assert "dev-20261122" in aws.cluster_ids()
    assert ("source legacy-aurora runs Aurora MySQL 2 (5.7.mysql_aurora.2.11.2), past its end of standard support "
            "(2024-10-31): every clone is billed RDS Extended Support; upgrade the source "
            "(ENGINE_LIFECYCLE_SUPPORT=open-source-rds-extended-support-disabled would make RDS upgrade every clone to "
            "a newer major version instead; =open-source-rds-extended-support acknowledges the charge)") in caplog.text


def test_engine_lifecycle_support_set_to_enrol_silences_the_warning(aws, devdb_settings, make_engine, caplog):
    aurora_mysql_2(aws, devdb_settings)
    devdb_settings["TARGETS"]["dev"]["ENGINE_LIFECYCLE_SUPPORT"] = "open-source-rds-extended-support"
    caplog.set_level(logging.WARNING, logger="devdb")
    make_engine(gateway=gateway()).refresh()
    assert "Extended Support" not in caplog.text and "standard support" not in caplog.text


def test_extended_support_disabled_is_no_silent_way_out(aws, devdb_settings, make_engine, caplog):
    """AWS: with open-source-rds-extended-support-disabled, RDS upgrades a restored cluster whose major version is
    past its end of standard support to a higher engine version: the clone would not run the source's version."""
    aurora_mysql_2(aws, devdb_settings)
    devdb_settings["TARGETS"]["dev"]["ENGINE_LIFECYCLE_SUPPORT"] = "open-source-rds-extended-support-disabled"
    caplog.set_level(logging.WARNING, logger="devdb")
    make_engine(gateway=gateway()).refresh()
    assert ("past its end of standard support (2024-10-31): with ENGINE_LIFECYCLE_SUPPORT="
            "open-source-rds-extended-support-disabled RDS upgrades every clone to a newer major version than the "
            "source's") in caplog.text
    assert "opt out" not in caplog.text


@pytest.mark.parametrize("engine, version, day, ended", [
    ("aurora-mysql", "5.7.mysql_aurora.2.12.4", "2026-11-22", "2024-10-31"),
    ("aurora-postgresql", "11.21", "2026-11-22", "2024-02-29"),
    ("aurora-postgresql", "12.22", "2026-11-22", "2025-02-28"),
    ("aurora-postgresql", "13.15", "2026-11-22", "2026-02-28"),
    ("aurora-postgresql", "13.15", "2026-02-27", None),  # the day before: still standard support
    ("aurora-postgresql", "14.12", "2026-11-22", None),
    ("aurora-postgresql", "14.12", "2027-03-01", "2027-02-28"),
    ("aurora-postgresql", "16.4", "2026-11-22", None),
    ("aurora-mysql", "8.0.mysql_aurora.3.05.2", "2026-11-22", None),
])
def test_every_version_past_standard_support_is_warned_about(engine, version, day, ended):
    from datetime import datetime, timezone

    warnings = []
    reporter = SimpleNamespace(warning=lambda text, *args: warnings.append(text % args))
    source = SimpleNamespace(id="prod", engine=engine, engine_version=version)
    target = SimpleNamespace(engine_lifecycle_support=None)
    now = datetime.fromisoformat(day).replace(hour=5, tzinfo=timezone.utc)
    preflight.warn_extended_support(target, source, reporter, now)
    if ended is None:
        assert warnings == []
    else:
        major = version.split(".")[0] if engine == "aurora-postgresql" else "2"
        label = "Aurora PostgreSQL" if engine == "aurora-postgresql" else "Aurora MySQL"
        assert len(warnings) == 1
        assert warnings[0].startswith(f"source prod runs {label} {major} ({version}), past its end of standard "
                                      f"support ({ended}): every clone is billed RDS Extended Support")


def test_the_retired_aurora_engine_is_refused(aws, make_engine):
    made = gateway()

    def retired(parsed, **_):
        for cluster in parsed.get("DBClusters", []):
            if cluster["DBClusterIdentifier"] == "prod-aurora":
                cluster.update(Engine="aurora", EngineVersion="5.6.mysql_aurora.1.23.4")

    made.rds.meta.events.register("after-call.rds.DescribeDBClusters", retired)  # moto no longer creates one
    line = refused(aws, make_engine(gateway=made), "SOURCE_CLUSTER")
    assert line == "SOURCE_CLUSTER: prod-aurora is aurora, not Aurora MySQL or Aurora PostgreSQL"


def test_an_aurora_postgresql_source_passes_the_checks(aws, devdb_settings, make_engine):
    """PostgreSQL support is coming: nothing here refuses it (the class is checked against its own list)."""
    target = make_engine().target
    source = SimpleNamespace(id="prod-pg", engine="aurora-postgresql", engine_version="16.3", clone_group=None)
    made = Gateway(max_attempts=3)
    answer(made, "DescribeOrderableDBInstanceOptions", orderable("db.t4g.medium", engine="aurora-postgresql", version="16.3"))
    answer(made, "DescribeAccountAttributes", quota(1, 40))
    preflight.before_clone(made, target, source, clones={}, reporter=make_engine().reporter)
    assert made.operations == ["DescribeOrderableDBInstanceOptions", "DescribeAccountAttributes"]


def test_a_dry_run_is_refused_the_same_way(aws, make_engine):
    line = refused(aws, make_engine(gateway=gateway(classes=("db.r6g.large",)), dry_run=True), "INSTANCE_CLASS")
    assert "db.t4g.medium is not offered" in line


# --- point 9: a source shared from another account ---------------------------------------------


KEY = "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def shared(aws, devdb_settings, encrypted=True):
    """A source named by its ARN, as a cluster shared through AWS RAM is (moto has one account: ours)."""
    extra = {"StorageEncrypted": True, "KmsKeyId": KEY} if encrypted else {}
    arn = aws.rds.create_db_cluster(DBClusterIdentifier="prod-shared", Engine="aurora-mysql", EngineVersion=SOURCE_VERSION,
                                    MasterUsername="admin", MasterUserPassword="prod-password", **extra)["DBCluster"]["DBClusterArn"]
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = arn
    return arn


def test_an_encrypted_shared_source_without_kms_key_id_is_refused(aws, devdb_settings, make_engine):
    arn = shared(aws, devdb_settings)
    line = refused(aws, make_engine(gateway=gateway()), "KMS_KEY_ID")
    assert line == (f"KMS_KEY_ID: source {arn} is shared from another account and encrypted (key {KEY}); "
                    "set KMS_KEY_ID to a key of this account for its clones")


def test_a_shared_source_is_cloned_by_its_arn(aws, devdb_settings, make_engine):
    shared(aws, devdb_settings)
    devdb_settings["TARGETS"]["dev"]["KMS_KEY_ID"] = "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321"
    made = gateway()
    make_engine(gateway=made).refresh()
    assert aws.tags("dev-20261122")["devdb:source"] == "prod-shared"


def test_an_unencrypted_shared_source_needs_no_key(aws, devdb_settings, make_engine):
    shared(aws, devdb_settings, encrypted=False)
    make_engine(gateway=gateway()).refresh()
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
