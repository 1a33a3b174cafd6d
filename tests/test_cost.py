"""What clones cost while nobody uses them (issue 18, item 8), against moto with AWS's rules (sandbox/aws_rules.py).

A clone kept for rollback (KEEP_ABORTED) is stopped once its grace has passed and started again by a
rollback; a deleted clone's CloudWatch log groups go with it; KEEP_ABORTED never keeps a branch:
`branch_devdb delete` and branch expiry delete the clusters.
"""

import io
import boto3
import pytest
from django.core.management import call_command

from devdb.aws import Gateway
from devdb.models import CloneRecord

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def commands_on_the_test_clock(monkeypatch, clock):
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)


def log_groups():
    return sorted(g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"])


def status(aws, cluster_id):
    return aws.cluster(cluster_id)["Status"]


def test_a_clone_kept_for_rollback_is_stopped_and_started_by_the_rollback(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    make_engine().refresh()
    clock.advance(days=1)
    make_engine().refresh()  # dev-20261123 connected; dev-20261122 aborted and kept
    assert aws.tags("dev-20261122")["devdb:state"] == "aborted"
    assert status(aws, "dev-20261122") == "stopped" and status(aws, "dev-20261123") == "available"
    assert "stopped while kept for rollback" in " ".join(
        e.message for e in CloneRecord.objects.get(cluster_id="dev-20261122").events.all())

    clock.advance(days=1)
    gateway = Gateway(max_attempts=3)
    make_engine(gateway=gateway).refresh()  # dev-20261124 connected: dev-20261123 kept (stopped), dev-20261122 deleted
    assert aws.cluster_ids() == ["dev-20261123", "dev-20261124", "prod-aurora"]
    assert status(aws, "dev-20261123") == "stopped"
    # The stopped clone that is no longer kept was started (instances of a stopped cluster cannot be
    # deleted) and deleted in the same run, not left running until the next one.
    ops = gateway.operations
    assert ops.count("StopDBCluster") == 1 and ops.index("StartDBCluster") < ops.index("DeleteDBInstance")

    call_command("connect_devdb", "--to", "dev-20261123")  # a rollback starts it
    assert status(aws, "dev-20261123") == "available"
    assert aws.record() == aws.cluster("dev-20261123")["Endpoint"]
    assert aws.tags("dev-20261123")["devdb:state"] == "connected"


def test_without_keep_aborted_nothing_is_stopped_and_a_dry_run_only_says_so(aws, devdb_settings, make_engine, clock):
    make_engine().refresh()
    clock.advance(days=1)
    gateway = Gateway(max_attempts=3)
    make_engine(gateway=gateway).refresh()
    assert "StopDBCluster" not in gateway.operations

    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    clock.advance(days=1)
    out = io.StringIO()
    call_command("refresh_devdb", "--dry-run", stdout=out)
    assert "would stop dev-20261123 (kept for rollback, KEEP_ABORTED=1; a rollback starts it again)" in out.getvalue()
    assert status(aws, "dev-20261123") == "available"


def test_a_deleted_clone_takes_its_log_groups_with_it(aws, make_engine, clock):
    # The seeded source exports its error and slowquery logs; so do its clones (parity).
    make_engine().refresh()
    assert log_groups() == ["/aws/rds/cluster/dev-20261122/error", "/aws/rds/cluster/dev-20261122/slowquery",
                            "/aws/rds/cluster/prod-aurora/error", "/aws/rds/cluster/prod-aurora/slowquery"]
    clock.advance(days=1)
    make_engine().refresh()
    assert "dev-20261122" not in aws.cluster_ids()
    assert log_groups() == ["/aws/rds/cluster/dev-20261123/error", "/aws/rds/cluster/dev-20261123/slowquery",
                            "/aws/rds/cluster/prod-aurora/error", "/aws/rds/cluster/prod-aurora/slowquery"]


def test_a_log_group_already_gone_is_no_error_and_a_refusal_only_a_warning(aws, make_engine, clock, caplog):
    make_engine().refresh()
    boto3.client("logs").delete_log_group(logGroupName="/aws/rds/cluster/dev-20261122/error")  # by hand
    clock.advance(days=1)
    make_engine().refresh()
    assert "/aws/rds/cluster/dev-20261122/slowquery" not in log_groups()

    clock.advance(days=1)
    gateway = Gateway(max_attempts=1)
    gateway.logs.meta.events.register("before-call.logs.DeleteLogGroup", lambda **_: (_ for _ in ()).throw(
        gateway.logs.exceptions.ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                                            "DeleteLogGroup")))
    make_engine(gateway=gateway).refresh()  # the clone is deleted all the same; the run does not fail
    assert "dev-20261123" not in aws.cluster_ids()
    assert "log groups of dev-20261123 not deleted: AWS DeleteLogGroup failed: AccessDeniedException" in caplog.text


def test_keep_aborted_never_keeps_a_branch(aws, devdb_settings, clock):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 2
    call_command("refresh_devdb")
    call_command("branch_devdb", "create", "feat", stdout=io.StringIO())
    call_command("branch_devdb", "create", "feat", "--reset", stdout=io.StringIO())  # the old clone is superseded
    branch_clusters = [c for c in aws.cluster_ids() if c.startswith("dev-feat")]
    assert len(branch_clusters) == 1  # the superseded one is deleted, not kept for rollback
    call_command("branch_devdb", "delete", "feat", stdout=io.StringIO())
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]  # deleted, not left running tagged aborted

    call_command("branch_devdb", "create", "pr-7", "--ttl", "2h", stdout=io.StringIO())
    clock.advance(hours=3)
    call_command("refresh_devdb")  # expired: its clusters are deleted
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert {r.state for r in CloneRecord.objects.filter(cluster_id__startswith="dev-")
            .exclude(cluster_id="dev-20261122")} == {"deleted"}


def test_a_rollback_to_a_kept_clone_that_is_still_stopping_waits_then_starts_it(aws, devdb_settings, make_engine,
                                                                                 clock):
    """A rollback asked while AWS is still stopping the kept clone (realistic rules: StartDBCluster is refused
    while `stopping`) ends with the clone available and the name on it."""
    from sandbox import aws_rules

    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    make_engine().refresh()
    clock.advance(days=1)
    make_engine().refresh()
    aws.rds.start_db_cluster(DBClusterIdentifier="dev-20261122")  # AWS restarted it after 7 days
    aws_rules.SIM.configure(realistic=True, throttle=0, scale=1)  # stopping for 2 s, starting for 4 s
    devdb_settings.update(POLL_INITIAL=0.01, POLL_MAX=0.02)  # fake sleeps: poll until the real seconds have passed
    aws.rds.stop_db_cluster(DBClusterIdentifier="dev-20261122")  # ... and today's clean is stopping it again
    assert status(aws, "dev-20261122") == "stopping"
    call_command("connect_devdb", "--to", "dev-20261122")
    assert status(aws, "dev-20261122") == "available"
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]
