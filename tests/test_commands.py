"""The *_devdb commands: exit statuses, one-line errors, --dry-run, status output and sync.

In-process tests run the commands with call_command against moto in-process on a fake clock.
Where the exit status and stderr are the point, `manage.py` runs as a subprocess with the example
project's settings against moto's standalone server.
"""

import io
import json
import os
import re
import socket
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone as dj_timezone

from devdb.models import CloneEvent, CloneRecord, TargetLease
from devdb_sandbox.moto_server import seed
from tests.aws_calls import account_state
from tests.project import manage, unstamped

DAY1, DAY2, DAY3 = "dev-20261122", "dev-20261123", "dev-20261124"

pytestmark = pytest.mark.django_db(databases="__all__")


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def fake_time(monkeypatch, clock):
    """Commands run on the fake clock (2026-11-22 05:00 UTC): nothing really sleeps."""
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    return clock


def run(*args):
    """call_command, returning stdout."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def morning(clock, day):
    from tests.conftest import START

    clock.moment = START + timedelta(days=day - 1)


def two_days(aws, clock):
    """Day 1 refreshed and connected; day 2 cloned and connected by hand, so day 1 is aborted (not cleaned)."""
    run("refresh_devdb")
    morning(clock, 2)
    run("clone_devdb")
    run("connect_devdb")
    assert aws.tags(DAY1)["devdb:state"] == "aborted"
    assert aws.tags(DAY2)["devdb:state"] == "connected"


def foreign_cluster(aws, cluster_id, tags=()):
    aws.rds.create_db_cluster(DBClusterIdentifier=cluster_id, Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="not-ours-password", Tags=[{"Key": k, "Value": v} for k, v in tags])
    aws.rds.create_db_instance(DBInstanceIdentifier=f"{cluster_id}-1", DBClusterIdentifier=cluster_id,
                               DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")


# --- exit statuses in-process --------------------------------------------------------------------


def test_refresh_with_nothing_to_do_succeeds(aws, devdb_settings, fake_time):
    run("refresh_devdb")
    before = account_state(aws)
    out = run("refresh_devdb")
    assert unstamped(out) == "dev: nothing to do; dev-20261122 is connected"
    assert account_state(aws) == before


def test_unknown_target_is_refused_before_any_aws_change(aws, devdb_settings, fake_time):
    before = account_state(aws)
    # A usage error, caught by the argument parser (manage.py exits 2: see the manage.py test below).
    with pytest.raises(CommandError, match=r"^Error: argument TARGET: unknown target 'qa' \(configured: dev\)$"):
        call_command("refresh_devdb", "qa")
    assert account_state(aws) == before


@pytest.mark.parametrize("command", ["refresh_devdb", "clean_devdb"])
def test_missing_hosted_zone_is_refused_without_aws_changes(aws, devdb_settings, fake_time, command):
    devdb_settings["TARGETS"]["dev"]["HOSTED_ZONE_ID"] = "Z09999999999999999999"
    before = account_state(aws)
    with pytest.raises(CommandError, match="HOSTED_ZONE_ID: hosted zone Z09999999999999999999 does not exist") as refused:
        call_command(command)
    assert refused.value.returncode == 1
    assert account_state(aws) == before
    assert not CloneRecord.objects.exists()


def test_status_with_a_missing_hosted_zone_fails_naming_the_zone(aws, devdb_settings, fake_time):
    devdb_settings["TARGETS"]["dev"]["HOSTED_ZONE_ID"] = "Z09999999999999999999"
    with pytest.raises(CommandError, match="Z09999999999999999999") as refused:
        call_command("status_devdb", stdout=io.StringIO())
    assert refused.value.returncode == 1
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("command", ["refresh_devdb", "connect_devdb"])
def test_missing_source_cluster_is_refused_without_aws_changes(aws, devdb_settings, fake_time, command):
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "prod-aurora-gone"
    before = account_state(aws)
    with pytest.raises(CommandError, match="SOURCE_CLUSTER: cluster prod-aurora-gone does not exist") as refused:
        call_command(command)
    assert refused.value.returncode == 1
    assert account_state(aws) == before


def test_record_name_outside_the_hosted_zone_is_refused_without_aws_changes(aws, devdb_settings, fake_time):
    record_name = "db.dev.example.com.evil.net"
    devdb_settings["TARGETS"]["dev"]["RECORD_NAME"] = record_name
    before = account_state(aws)
    with pytest.raises(CommandError, match=f"RECORD_NAME: {record_name} is not inside hosted zone .* \\(dev.example.com\\)"):
        call_command("refresh_devdb")
    assert account_state(aws) == before


def test_record_name_at_the_zone_apex_is_refused_as_the_apex_without_aws_changes(aws, devdb_settings, fake_time):
    devdb_settings["TARGETS"]["dev"]["RECORD_NAME"] = "Dev.Example.com."
    before = account_state(aws)
    with pytest.raises(CommandError) as refused:
        call_command("refresh_devdb")
    assert "RECORD_NAME: Dev.Example.com is the apex of hosted zone " in str(refused.value)
    assert "where DNS allows no CNAME: use a name inside it, e.g. db.dev.example.com" in str(refused.value)
    assert "not inside" not in str(refused.value)
    assert account_state(aws) == before


def test_lease_held_by_a_live_process_on_this_host_exits_3(aws, devdb_settings, fake_time):
    now = dj_timezone.now()
    TargetLease.objects.create(target="dev", token="other", host=socket.gethostname(), pid=os.getppid(),
                               acquired_at=now, expires_at=now + timedelta(hours=1))
    before = account_state(aws)
    with pytest.raises(CommandError, match="target 'dev' is locked by another run") as refused:
        call_command("refresh_devdb")
    assert refused.value.returncode == 3
    assert account_state(aws) == before
    assert TargetLease.objects.get().token == "other"


def test_lease_held_on_another_host_until_it_expires_exits_3(aws, devdb_settings, fake_time):
    now = dj_timezone.now()
    TargetLease.objects.create(target="dev", token="other", host="cron-box-2", pid=1,
                               acquired_at=now, expires_at=now + timedelta(minutes=5))
    with pytest.raises(CommandError, match="locked by another run: host cron-box-2 pid 1") as refused:
        call_command("clone_devdb")
    assert refused.value.returncode == 3
    assert aws.cluster_ids() == ["prod-aurora"]


def test_lease_is_released_after_a_run(aws, devdb_settings, fake_time):
    run("refresh_devdb")
    assert not TargetLease.objects.exists()


def test_status_does_not_need_the_lease(aws, devdb_settings, fake_time):
    now = dj_timezone.now()
    TargetLease.objects.create(target="dev", token="other", host="cron-box-2", pid=1,
                               acquired_at=now, expires_at=now + timedelta(minutes=5))
    assert "target dev: db.dev.example.com -> nothing" in run("status_devdb")


# --- connect --to refusals -----------------------------------------------------------------------


def test_connect_to_anything_but_a_clone_of_this_target_is_refused_without_changes(aws, devdb_settings, fake_time):
    run("refresh_devdb")
    foreign_cluster(aws, "analytics-db", (("team", "analytics"),))
    foreign_cluster(aws, "qa-20261121", (("devdb:managed-by", "django-devdb"), ("devdb:target", "qa"),
                                         ("devdb:state", "aborted"), ("devdb:state-since", "2026-11-21T05:00:00Z"),
                                         ("devdb:source", "prod-aurora")))
    before = account_state(aws)
    refusals = {
        "dev-20261101": "--to: cluster dev-20261101 does not exist",
        "prod-aurora": "--to: prod-aurora is a source cluster; only a clone of target 'dev' can be connected",
        "analytics-db": "--to: cluster analytics-db is not managed by django-devdb",
        "qa-20261121": "--to: cluster qa-20261121 belongs to target 'qa', not 'dev'",
    }
    for to, message in refusals.items():
        with pytest.raises(CommandError) as refused:
            call_command("connect_devdb", "--to", to, stdout=io.StringIO())
        assert str(refused.value) == f"dev: {message}"
        assert refused.value.returncode == 1
    assert account_state(aws) == before
    assert aws.record().startswith(DAY1 + ".")
    assert CloneRecord.objects.get().state == "connected"


def test_connect_to_needs_a_target_when_several_are_configured(aws, devdb_settings, fake_time):
    from tests.conftest import target_settings

    devdb_settings["TARGETS"]["qa"] = target_settings(aws.zone_id, RECORD_NAME="db.qa.dev.example.com")
    with pytest.raises(CommandError, match="--to needs a TARGET when several targets are configured"):
        call_command("connect_devdb", "--to", DAY1)
    assert aws.cluster_ids() == ["prod-aurora"]


# --- argument errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("refresh_devdb", "--grace", "-1"),
    ("refresh_devdb", "--timeout", "-5"),
    ("refresh_devdb", "--timeout", "0"),
    ("clean_devdb", "--grace", "soon"),
    ("connect_devdb", "--timeout", "-1"),
])
def test_bad_option_values_are_usage_errors(aws, devdb_settings, args):
    with pytest.raises(CommandError, match=f"argument {args[1]}: must be a"):
        call_command(*args)
    assert aws.cluster_ids() == ["prod-aurora"]


# --- dry runs ------------------------------------------------------------------------------------


def test_refresh_dry_run_lists_the_clone_and_the_record_move_and_changes_nothing(aws, devdb_settings, fake_time):
    before = account_state(aws)
    out = run("refresh_devdb", "--dry-run")
    assert out.splitlines() == [  # what the real run then does (tests/test_operator_engine.py compares them)
        "dev: would create clone dev-20261122 of prod-aurora (copy-on-write) with writer dev-20261122-1 (db.t4g.medium)",
        "dev: would create writer instance dev-20261122-1 (db.t4g.medium) in dev-20261122",
        "dev: would add IAM role arn:aws:iam::123456789012:role/service-role/prod-aurora-s3-access (no feature) "
        "to dev-20261122, as on prod-aurora",
        "dev: would tag dev-20261122 ready (usable (status probe); configured like prod-aurora)",
        "dev: would point db.dev.example.com at dev-20261122 (its endpoint; was unset)",
        "dev: would tag dev-20261122 connected (db.dev.example.com points here)",
    ]
    assert account_state(aws) == before
    assert not CloneRecord.objects.exists()
    assert not TargetLease.objects.exists()


def test_refresh_dry_run_lists_supersede_and_deletion_and_changes_nothing(aws, devdb_settings, fake_time):
    devdb_settings["TARGETS"]["dev"]["CLEAN_GRACE"] = 3600
    two_days(aws, fake_time)
    morning(fake_time, 3)
    before, records, events = account_state(aws), list(CloneRecord.objects.values()), CloneEvent.objects.count()
    out = run("refresh_devdb", "--dry-run")
    lines = out.splitlines()
    assert f"dev: would create clone {DAY3} of prod-aurora (copy-on-write) with writer {DAY3}-1 (db.t4g.medium)" in lines
    assert any(line.startswith(f"dev: would point db.dev.example.com at {DAY3} (its endpoint; was {DAY2}.") for line in lines)
    assert f"dev: would tag {DAY2} aborted (superseded by {DAY3})" in lines
    assert f"dev: would delete instance {DAY1}-1" in lines
    assert f"dev: would delete clone {DAY1} (aborted since 2026-11-23T05:00:00Z)" in lines
    assert all(line.startswith("dev: would ") for line in lines)
    assert account_state(aws) == before
    assert list(CloneRecord.objects.values()) == records
    assert CloneEvent.objects.count() == events


def test_clone_dry_run_names_the_clone_and_changes_nothing(aws, devdb_settings, fake_time):
    before = account_state(aws)
    out = run("clone_devdb", "--dry-run")
    assert out.splitlines() == [
        "dev: would create clone dev-20261122 of prod-aurora (copy-on-write) with writer dev-20261122-1 (db.t4g.medium)",
        "dev: would create writer instance dev-20261122-1 (db.t4g.medium) in dev-20261122",
    ]
    assert account_state(aws) == before


def test_clone_dry_run_of_a_killed_run_lists_the_missing_writer(aws, devdb_settings, fake_time):
    from devdb import lifecycle

    aws.rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier=DAY1, SourceDBClusterIdentifier="prod-aurora", RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
        Tags=lifecycle.tag_list(lifecycle.clone_tags("dev", "prod-aurora", "created", fake_time.now())))
    before = account_state(aws)
    out = run("clone_devdb", "--dry-run")
    assert out.strip() == f"dev: would create writer instance {DAY1}-1 (db.t4g.medium) in {DAY1}"
    assert account_state(aws) == before


def test_connect_dry_run_lists_the_record_move_and_the_tags_and_changes_nothing(aws, devdb_settings, fake_time):
    run("refresh_devdb")
    morning(fake_time, 2)
    run("clone_devdb")
    aws.rds.add_tags_to_resource(ResourceName=aws.cluster(DAY2)["DBClusterArn"],
                                 Tags=[{"Key": "devdb:state", "Value": "ready"}])
    before = account_state(aws)
    out = run("connect_devdb", "--dry-run")
    lines = out.splitlines()
    assert lines[0].startswith(f"dev: would point db.dev.example.com at {DAY2} ({DAY2}.")
    assert lines[0].endswith(f"; was {aws.cluster(DAY1)['Endpoint'].lower()})")
    assert lines[1:] == [f"dev: would tag {DAY2} connected (db.dev.example.com points here)",
                         f"dev: would tag {DAY1} aborted (superseded by {DAY2})"]
    assert account_state(aws) == before


def test_connect_to_dry_run_lists_the_rollback_and_changes_nothing(aws, devdb_settings, fake_time):
    two_days(aws, fake_time)
    before = account_state(aws)
    out = run("connect_devdb", "--to", DAY1, "--dry-run")
    assert f"dev: would tag {DAY1} connected (db.dev.example.com points here (rollback))" in out.splitlines()
    assert f"dev: would tag {DAY2} aborted (superseded by {DAY1})" in out.splitlines()
    assert out.startswith(f"dev: would point db.dev.example.com at {DAY1} ")
    assert account_state(aws) == before


def test_clean_dry_run_lists_each_deletion_changes_nothing_and_clean_then_deletes_it(aws, devdb_settings, fake_time):
    two_days(aws, fake_time)
    assert unstamped(run("clean_devdb", "--dry-run", "--grace", "7200")) == "dev: nothing to do"
    before = account_state(aws)
    out = run("clean_devdb", "--dry-run")
    assert out.splitlines() == [
        f"dev: would delete instance {DAY1}-1",
        f"dev: would delete clone {DAY1} (aborted since 2026-11-23T05:00:00Z)",
    ]
    assert account_state(aws) == before
    assert CloneRecord.objects.get(cluster_id=DAY1).state == "aborted"
    run("clean_devdb")
    assert aws.cluster_ids() == [DAY2, "prod-aurora"]
    assert CloneRecord.objects.get(cluster_id=DAY1).state == "deleted"


# --- status --------------------------------------------------------------------------------------


def test_status_with_no_clones(aws, devdb_settings, fake_time):
    assert run("status_devdb").splitlines() == ["target dev: db.dev.example.com -> nothing", "  no clones"]


def test_status_table_and_json_show_each_clone_and_the_live_one(aws, devdb_settings, fake_time):
    two_days(aws, fake_time)
    lines = run("status_devdb").splitlines()
    assert lines[0] == f"target dev: db.dev.example.com -> {DAY2}"
    assert lines[1].split() == ["CLONE", "STATE", "SINCE", "AWS", "STATUS", "INSTANCES"]
    assert lines[2].split() == [DAY1, "aborted", "2026-11-23T05:00:00Z", "available", f"{DAY1}-1", "available"]
    assert lines[3].split() == [DAY2, "connected", "2026-11-23T05:00:00Z", "available", f"{DAY2}-1", "available",
                                "<-", "live"]
    # Issue 9: each clone's parity with its source.
    assert lines[4:] == [f"  {DAY1}: configured like prod-aurora", f"  {DAY2}: configured like prod-aurora"]
    data = json.loads(run("status_devdb", "--json"))
    assert list(data) == ["targets"]
    (report,) = data["targets"]
    assert report["target"] == "dev"
    assert report["record_name"] == "db.dev.example.com"
    assert report["points_at"] == aws.cluster(DAY2)["Endpoint"].lower()
    assert report["points_at_clone"] == DAY2
    clones = {c["cluster"]: c for c in report["clones"]}
    assert list(clones) == [DAY1, DAY2]
    assert clones[DAY2] == {
        "cluster": DAY2,
        "state": "connected",
        "state_since": "2026-11-23T05:00:00Z",
        "status": "available",
        "instances": [{"id": f"{DAY2}-1", "status": "available", "state": "connected"}],
        "endpoint": aws.cluster(DAY2)["Endpoint"],
        "source": "prod-aurora",
        "live": True,
        "parity": "configured like prod-aurora",
        "like_source": True,
    }
    assert clones[DAY1]["state"] == "aborted" and clones[DAY1]["live"] is False


def test_status_lists_only_this_targets_clones(aws, devdb_settings, fake_time):
    run("refresh_devdb")
    foreign_cluster(aws, "qa-20261122", (("devdb:managed-by", "django-devdb"), ("devdb:target", "qa"),
                                         ("devdb:state", "connected")))
    foreign_cluster(aws, "dev-copy", (("team", "dev"),))
    data = json.loads(run("status_devdb", "--json"))
    assert [c["cluster"] for c in data["targets"][0]["clones"]] == [DAY1]


def test_json_outcome_of_a_refresh(aws, devdb_settings, fake_time):
    (outcome,) = json.loads(run("refresh_devdb", "--json"))
    assert outcome["target"] == "dev"
    assert outcome["created"] == [DAY1]
    assert outcome["connected"] == DAY1
    assert outcome["deleted"] == []
    assert outcome["error"] is None
    assert outcome["record_points_at"] == aws.record().lower()
    assert f"create clone {DAY1} of prod-aurora (copy-on-write) with writer {DAY1}-1 (db.t4g.medium)" in outcome["actions"]


# --- sync ----------------------------------------------------------------------------------------


def test_sync_marks_a_record_deleted_when_its_cluster_was_deleted_by_hand(aws, devdb_settings, fake_time):
    two_days(aws, fake_time)
    aws.rds.delete_db_instance(DBInstanceIdentifier=f"{DAY1}-1", SkipFinalSnapshot=True)
    aws.rds.delete_db_cluster(DBClusterIdentifier=DAY1, SkipFinalSnapshot=True)
    fake_time.advance(minutes=10)
    out = run("sync_devdb", "--dry-run")
    assert out.strip() == f"dev: would record {DAY1} as deleted (the cluster no longer exists)"
    assert CloneRecord.objects.get(cluster_id=DAY1).state == "aborted"
    run("sync_devdb")
    record = CloneRecord.objects.get(cluster_id=DAY1)
    assert record.state == "deleted"
    assert record.deleted_at == fake_time.now()
    assert record.events.last().from_state == "aborted"
    assert record.events.last().to_state == "deleted"
    assert CloneRecord.objects.get(cluster_id=DAY2).state == "connected"


def test_sync_creates_records_for_clones_it_did_not_know(aws, devdb_settings, fake_time):
    two_days(aws, fake_time)
    CloneRecord.objects.all().delete()
    run("sync_devdb")
    records = {r.cluster_id: r for r in CloneRecord.objects.all()}
    assert {cid: r.state for cid, r in records.items()} == {DAY1: "aborted", DAY2: "connected"}
    assert records[DAY2].source == "prod-aurora"
    assert records[DAY2].instance_id == f"{DAY2}-1"
    assert records[DAY2].state_since == datetime(2026, 11, 23, 5, 0, tzinfo=timezone.utc)
    events = CloneEvent.objects.count()
    run("sync_devdb")
    assert CloneEvent.objects.count() == events  # an unchanged account adds no history


def test_sync_ignores_clusters_of_other_targets_and_unmanaged_ones(aws, devdb_settings, fake_time):
    foreign_cluster(aws, "qa-20261122", (("devdb:managed-by", "django-devdb"), ("devdb:target", "qa"),
                                         ("devdb:state", "connected")))
    foreign_cluster(aws, "dev-20261120", (("team", "dev"),))
    run("sync_devdb")
    assert not CloneRecord.objects.exists()


# --- manage.py as a subprocess -------------------------------------------------------------------


@pytest.fixture(scope="module")
def control_db(tmp_path_factory, moto_server):
    """A migrated SQLite control database for the example project, shared by this module's subprocesses."""
    folder = tmp_path_factory.mktemp("project")
    env = {**moto_server.env(), "DJANGO_SETTINGS_MODULE": "project.settings",
           "DATABASE_URL": f"sqlite:///{folder}/app.sqlite3", "DEVDB_DATABASE_URL": f"sqlite:///{folder}/devdb.sqlite3",
           "DEVDB_SOURCE_CLUSTER": "prod-aurora", "DEVDB_HOSTED_ZONE_ID": "Z0123456789ABC",
           "DEVDB_RECORD_NAME": "db.dev.example.com", "DEVDB_INSTANCE_CLASS": "db.t4g.medium"}
    manage("migrate", "--database", "devdb", "--verbosity", "0", env=env, check=True)
    return folder


class Project:
    """manage.py with project.settings, a fresh seeded moto server, and the shared control DB."""

    def __init__(self, server, folder, zone_id):
        self.server, self.folder, self.zone_id = server, folder, zone_id
        self.rds = server.client("rds")

    def env(self, **overrides):
        return {
            **self.server.env(),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{self.folder}/app.sqlite3",
            "DEVDB_DATABASE_URL": f"sqlite:///{self.folder}/devdb.sqlite3",
            "DEVDB_SOURCE_CLUSTER": "prod-aurora",
            "DEVDB_HOSTED_ZONE_ID": self.zone_id,
            "DEVDB_RECORD_NAME": "db.dev.example.com",
            "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
            "DEVDB_CLEAN_GRACE": "0",
            **overrides,
        }

    def manage(self, *args, **overrides):
        return manage(*args, env=self.env(**overrides))

    def clusters(self):
        return sorted(c["DBClusterIdentifier"] for c in self.rds.describe_db_clusters()["DBClusters"])

    def db(self):
        return sqlite3.connect(self.folder / "devdb.sqlite3")


@pytest.fixture
def project(moto_server, control_db):
    moto_server.reset()
    zone_id = seed(moto_server.client("rds"), moto_server.client("route53"))
    with sqlite3.connect(control_db / "devdb.sqlite3") as db:
        for table in ("devdb_cloneevent", "devdb_clonerecord", "devdb_targetlease"):
            db.execute(f"DELETE FROM {table}")
    return Project(moto_server, control_db, zone_id)


def one_line(result, prefix):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_manage_py_exit_0_when_done_and_when_nothing_to_do(project):
    first = project.manage("refresh_devdb")
    assert first.returncode == 0, first.stderr
    clusters = project.clusters()
    assert len(clusters) == 2 and "prod-aurora" in clusters
    assert "is connected" in first.stdout
    again = project.manage("clean_devdb")
    assert again.returncode == 0, again.stderr
    assert unstamped(again.stdout) == "dev: nothing to do"


def test_manage_py_exit_1_names_a_missing_hosted_zone_and_changes_nothing(project):
    result = project.manage("refresh_devdb", DEVDB_HOSTED_ZONE_ID="Z09999999999999999999")
    assert result.returncode == 1
    line = one_line(result, "refresh_devdb: error: ")
    assert "HOSTED_ZONE_ID" in line and "Z09999999999999999999 does not exist" in line
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_exit_1_names_a_missing_source_cluster_and_changes_nothing(project):
    result = project.manage("clone_devdb", DEVDB_SOURCE_CLUSTER="prod-aurora-gone")
    assert result.returncode == 1
    # Found by asking AWS, named as the user set it: the environment variable, not the key in DEVDB.
    assert "DEVDB_SOURCE_CLUSTER: cluster prod-aurora-gone does not exist" in one_line(result, "clone_devdb: error: ")
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_exit_1_names_a_record_outside_the_zone_and_changes_nothing(project):
    result = project.manage("refresh_devdb", DEVDB_RECORD_NAME="db.example.org")
    assert result.returncode == 1
    assert "DEVDB_RECORD_NAME: db.example.org is not inside hosted zone" in one_line(result, "refresh_devdb: error: ")
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_connect_to_a_source_cluster_exits_1_in_one_line(project):
    result = project.manage("connect_devdb", "--to", "prod-aurora")
    assert result.returncode == 1
    assert "--to: prod-aurora is a source cluster" in one_line(result, "connect_devdb: error: ")
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_negative_seconds_are_a_usage_error_exit_2(project):
    result = project.manage("refresh_devdb", "--grace", "-1")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: manage.py refresh_devdb")
    assert "error: argument --grace: must be a non-negative integer of seconds, got '-1'" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_unknown_target_is_a_usage_error_exit_2(project):
    result = project.manage("refresh_devdb", "qa")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: manage.py refresh_devdb")
    assert "error: argument TARGET: unknown target 'qa' (configured: dev)" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_lists_every_settings_problem_naming_the_variables_set(project):
    result = project.manage("refresh_devdb", DEVDB_SOURCE_CLUSTER="", DEVDB_RECORD_TTL="0",
                            DEVDB_PUBLICLY_ACCESSIBLE="maybe", DEVDB_POLL_MAX="soon")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "refresh_devdb: error: DEVDB_POLL_MAX must be a number >= 0.01 (got 'soon')",
        "refresh_devdb: error: DEVDB_SOURCE_CLUSTER is required",
        "refresh_devdb: error: DEVDB_RECORD_TTL must be a positive integer (seconds) (got '0')",
        "refresh_devdb: error: DEVDB_PUBLICLY_ACCESSIBLE must be one of true, false, 1, 0, yes, no (got 'maybe')",
    ]
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_exit_3_when_another_live_process_holds_the_lease(project):
    now = datetime.now(timezone.utc)
    with project.db() as db:
        db.execute("INSERT INTO devdb_targetlease (target, token, host, pid, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                   ("dev", "held", socket.gethostname(), os.getppid(),
                    now.strftime("%Y-%m-%d %H:%M:%S"), (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")))
    result = project.manage("refresh_devdb")
    assert result.returncode == 3
    line = one_line(result, "refresh_devdb: error: ")
    assert f"target 'dev' is locked by another run: host {socket.gethostname()} pid {os.getppid()}" in line
    assert project.clusters() == ["prod-aurora"]


def test_manage_py_traceback_option_shows_the_traceback(project):
    result = project.manage("refresh_devdb", "--traceback", DEVDB_RECORD_NAME="db.example.org")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RECORD_NAME: db.example.org is not inside hosted zone" in result.stderr
    assert project.clusters() == ["prod-aurora"]


# --- what a failed run and the log level look like ------------------------------------------------


def test_a_failed_run_says_so_first_once_with_a_timestamp(aws, devdb_settings, fake_time, monkeypatch):
    from devdb import probes

    def failed(cluster, writer_id):
        raise probes.ProbeError("AWS reports cluster available, writer failed")
    monkeypatch.setattr(probes, "status_ready", failed)
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("refresh_devdb", stdout=out, stderr=io.StringIO())
    summary = unstamped(out.getvalue())
    assert summary == (f"dev: FAILED: clone {DAY1} aborted: AWS reports cluster available, writer failed "
                       f"(before failing: created {DAY1}; deleted {DAY1})")
    assert "change(s)" not in summary and "nothing to do" not in summary
    assert str(error.value) == f"dev: clone {DAY1} aborted: AWS reports cluster available, writer failed"


def test_manage_py_a_failure_is_one_line_on_each_stream(project):
    result = project.manage("refresh_devdb", DEVDB_SOURCE_CLUSTER="prod-missing")
    assert result.returncode == 1
    assert len(result.stdout.strip().splitlines()) == 1 and "dev: FAILED: " in unstamped(result.stdout)
    failures = [line for line in result.stderr.splitlines() if "prod-missing" in line]
    assert len(failures) == 1 and failures[0].startswith("refresh_devdb: error: dev: "), result.stderr


def test_manage_py_verbosity_overrides_the_example_projects_log_level(project):
    quiet = project.manage("clone_devdb", "-v", "0")  # LOGGING says INFO (DEVDB_LOG_LEVEL's default)
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr, quiet.stderr
    assert "created dev-" in unstamped(quiet.stdout)
    loud = project.manage("connect_devdb", "-v", "2", DEVDB_LOG_LEVEL="warning")
    assert loud.returncode == 0 and " INFO [dev] point db.dev.example.com at " in loud.stderr, loud.stderr
    again = project.manage("refresh_devdb", DEVDB_LOG_LEVEL="WARNING")
    assert again.returncode == 0 and " INFO " not in again.stderr


def test_manage_py_a_bad_log_level_is_one_line(project):
    result = project.manage("status_devdb", DEVDB_LOG_LEVEL="LOUD")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: DEVDB_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (got 'loud')"


# --- the control database ------------------------------------------------------------------------


def _server_database(kind):
    """A fresh, empty database named for this test run on the MariaDB / PostgreSQL server: (url, drop)."""
    import uuid

    name = f"devdb_operator_{uuid.uuid4().hex[:8]}"
    if kind == "mysql":
        from tests.project import _mysql_connect, require_mariadb

        params = require_mariadb()
        conn = _mysql_connect(params)
        conn.cursor().execute(f"CREATE DATABASE `{name}`")
        conn.close()

        def drop():
            c = _mysql_connect(params)
            c.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            c.close()
        return f"mysql://{params['user']}@{params['host']}:{params['port']}/{name}", drop
    import psycopg

    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        from tests.conftest import IN_CI

        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    return f"postgres://postgres@127.0.0.1:5432/{name}", drop


@pytest.mark.parametrize("kind", ["sqlite", "mysql", "postgresql"])
def test_manage_py_a_control_database_without_tables_says_to_migrate(project, kind, tmp_path):
    if kind == "sqlite":
        url, drop = f"sqlite:///{tmp_path}/empty.sqlite3", (lambda: None)
    else:
        url, drop = _server_database(kind)
    try:
        result = project.manage("clone_devdb", DEVDB_DATABASE_URL=url)
    finally:
        drop()
    assert result.returncode == 1
    assert one_line(result, "clone_devdb: error: ") == (
        "clone_devdb: error: dev: control database 'devdb' has no django-devdb tables; "
        "run `manage.py migrate --database devdb`")


@pytest.mark.parametrize("url", [
    "sqlite:////nonexistent-folder-operator/devdb.sqlite3",
    "mysql://root@127.0.0.1:1/devdb_operator",
    "postgres://postgres@127.0.0.1:1/devdb_operator",
])
def test_manage_py_an_unreachable_control_database_says_so(project, url):
    result = project.manage("clone_devdb", DEVDB_DATABASE_URL=url)
    assert result.returncode == 1
    line = one_line(result, "clone_devdb: error: dev: control database 'devdb' cannot be reached (")
    assert "migrate" not in line
    assert project.clusters() == ["prod-aurora"]
