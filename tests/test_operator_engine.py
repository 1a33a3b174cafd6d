"""What an operator reads must be true (issue 11, points 6, 9, 12, 13): a dry run lists exactly the
changes the real run then makes; a rollback is no failure for the next refresh; a stable name owned by
another target is never moved; a clone nobody ever resolved is deleted without the DNS grace.

In-process: moto with AWS's data rules, commands on the fake clock; post-clone SQL on the real MariaDB.
"""

import io
import logging
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb.models import CloneRecord
from tests.conftest import target_settings
from tests.aws_calls import account_state
from tests.project import unstamped
from tests.test_commands import DAY1, DAY2, DAY3, morning, run
from tests.test_engine import keep_writers_creating
from tests.test_post_clone import MASK, app_db  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def fake_time(monkeypatch, clock):
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    return clock


def changes(out):
    """A command's listed changes, as the real run and a dry run both name them: without "would " and
    without the details only the real run knows (the new endpoint, the exact time)."""
    return [re.sub(r"^would ", "", line.split(": ", 1)[1]).split(" (")[0] for line in out.splitlines()
            if line.startswith("dev: would ")]


def real_changes(clock, command):
    """The changes a real run makes, from the Outcome (the stdout summary only counts them)."""
    from devdb import runner

    made = []
    real_run = runner.run

    def recording(*args, **kwargs):
        outcomes = real_run(*args, **kwargs)
        made.extend(a for o in outcomes for a in o.actions)
        return outcomes

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "run", recording)
        run(*command)
    return [a.split(" (")[0] for a in made]


# --- 6. dry runs list every change -------------------------------------------------------------


@pytest.fixture
def clone_is_mariadb(monkeypatch, app_db, mariadb):  # noqa: F811
    """Send the clone's endpoint (and its production-like port) to the MariaDB server."""
    from devdb import probes

    real_connect = probes.connect
    monkeypatch.setattr(probes, "connect", lambda host, **kwargs: real_connect(
        app_db["host"], **{**kwargs, "port": mariadb["port"]}))


@pytest.mark.mysql
def test_a_refresh_dry_run_lists_the_changes_the_real_run_then_makes(aws, devdb_settings, fake_time, monkeypatch,
                                                                     clone_is_mariadb):
    monkeypatch.setenv("DEVDB_ENGINE11_MASTER_PASSWORD", "Clone-Only-pw-42")
    devdb_settings["TARGETS"]["dev"].update(POST_CLONE_SQL=[MASK], MASTER_PASSWORD_ENV="DEVDB_ENGINE11_MASTER_PASSWORD")
    for day in (1, 2):
        morning(fake_time, day)
        before = account_state(aws)
        dry = changes(run("refresh_devdb", "--dry-run"))
        assert account_state(aws) == before
        assert dry == real_changes(fake_time, ["refresh_devdb"])
    today = DAY2
    assert dry[:4] == [f"create clone {today} of prod-aurora", f"create writer instance {today}-1",
                       "add IAM role arn:aws:iam::123456789012:role/service-role/prod-aurora-s3-access",
                       f"set a new master password on {today}"]
    assert dry[4:] == [f"run {MASK} on {today}", f"tag {today} ready", f"point db.dev.example.com at {today}",
                       f"tag {today} connected", f"tag {DAY1} aborted", f"delete instance {DAY1}-1", f"delete clone {DAY1}"]


def test_a_connect_dry_run_lists_the_readiness_changes_and_the_dns_move(aws, devdb_settings, fake_time):
    run("refresh_devdb")
    morning(fake_time, 2)
    run("clone_devdb")  # created, usable: connect_devdb makes it ready and moves the name
    before = account_state(aws)
    dry = changes(run("connect_devdb", "--dry-run"))
    assert account_state(aws) == before
    assert f"point db.dev.example.com at {DAY2}" in dry
    assert dry == real_changes(fake_time, ["connect_devdb"])
    assert dry == ["add IAM role arn:aws:iam::123456789012:role/service-role/prod-aurora-s3-access", f"tag {DAY2} ready",
                   f"point db.dev.example.com at {DAY2}", f"tag {DAY2} connected", f"tag {DAY1} aborted"]


# --- 9. a rollback is not a failure ------------------------------------------------------------


def test_refresh_the_same_day_after_a_rollback_has_nothing_to_do(aws, devdb_settings, fake_time):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    run("refresh_devdb")
    morning(fake_time, 2)
    run("refresh_devdb")
    run("connect_devdb", "--to", DAY1)
    fake_time.advance(hours=1)
    # The clone rolled back from is kept (KEEP_ABORTED=1): the first run stops it (issue 18.8), then nothing.
    assert unstamped(run("refresh_devdb")) == f"dev: 1 change(s); {DAY1} is connected"  # exit 0
    assert aws.cluster(DAY2)["Status"] in ("stopping", "stopped")
    before = account_state(aws)
    assert unstamped(run("refresh_devdb")) == f"dev: nothing to do; {DAY1} is connected"  # exit 0
    assert account_state(aws) == before
    assert aws.record() == aws.cluster(DAY1)["Endpoint"]
    # ... and once the rolled-back-from clone is cleaned (KEEP_ABORTED=0), still nothing to do.
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 0
    run("clean_devdb")
    assert DAY2 not in aws.cluster_ids()
    assert unstamped(run("refresh_devdb")) == f"dev: nothing to do; {DAY1} is connected"


# --- 12. another target's name ----------------------------------------------------------------


def renamed(aws, devdb_settings, fake_time):
    """Target `old` refreshed (its clone holds the name); then the target is renamed `dev`."""
    devdb_settings["TARGETS"] = {"old": target_settings(aws.zone_id, CLONE_PREFIX="dev")}
    run("refresh_devdb")
    devdb_settings["TARGETS"] = {"dev": target_settings(aws.zone_id, CLONE_PREFIX="dev2")}
    morning(fake_time, 2)


@pytest.mark.parametrize("command", [["refresh_devdb"], ["connect_devdb"]])
def test_the_name_is_never_moved_off_another_targets_clone(aws, devdb_settings, fake_time, command):
    renamed(aws, devdb_settings, fake_time)
    before, records = account_state(aws), list(CloneRecord.objects.values())
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(*command, stdout=io.StringIO(), stderr=err)
    assert info.value.returncode == 1
    message = str(info.value)
    assert "\n" not in message
    assert f"points at {DAY1}, a clone of target 'old'" in message and "RECORD_NAME" in message
    assert account_state(aws) == before
    assert list(CloneRecord.objects.values()) == records


def test_status_warns_a_target_with_no_clones_whose_name_is_another_targets(aws, devdb_settings, fake_time, caplog):
    renamed(aws, devdb_settings, fake_time)
    caplog.set_level(logging.WARNING, logger="devdb")
    run("status_devdb")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"[dev] dev has no clones but db.dev.example.com points at {DAY1}, a clone of target 'old' "
                        "(renamed target, or a typo in RECORD_NAME?)"]


def test_no_warning_when_the_name_points_at_this_targets_clone(aws, devdb_settings, fake_time, caplog):
    run("refresh_devdb")
    caplog.set_level(logging.WARNING, logger="devdb")
    run("status_devdb")
    morning(fake_time, 2)
    run("refresh_devdb")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- 13. never live: no grace -------------------------------------------------------------------


def test_a_clone_that_failed_before_ready_is_deleted_without_waiting_out_the_grace(aws, devdb_settings, make_engine, clock):
    from devdb.aws import Gateway
    from devdb.errors import CloneFailed

    devdb_settings["TARGETS"]["dev"].update(READY_TIMEOUT=900, CLEAN_GRACE=3600)
    make_engine().refresh()
    clock.advance(days=1)
    with pytest.raises(CloneFailed):
        make_engine(gateway=keep_writers_creating(Gateway(max_attempts=3), DAY2)).refresh()
    assert aws.cluster_ids() == [DAY1, "prod-aurora"]
    aborted_at = CloneRecord.objects.get(cluster_id=DAY2).aborted_at
    assert clock.now() - aborted_at < timedelta(seconds=3600)


def test_a_clone_superseded_while_ready_is_deleted_at_once_the_live_one_after_the_grace(aws, devdb_settings, fake_time):
    devdb_settings["TARGETS"]["dev"]["CLEAN_GRACE"] = 3600
    run("refresh_devdb")
    morning(fake_time, 2)
    run("clone_devdb")
    aws.rds.add_tags_to_resource(ResourceName=aws.cluster(DAY2)["DBClusterArn"],
                                 Tags=[{"Key": "devdb:state", "Value": "ready"}])
    run("sync_devdb")
    morning(fake_time, 3)
    run("clone_devdb")
    run("connect_devdb")  # day 3 connected: day 1 (was live) and day 2 (never live) aborted
    assert {aws.tags(DAY1)["devdb:state"], aws.tags(DAY2)["devdb:state"]} == {"aborted"}
    run("clean_devdb")
    assert aws.cluster_ids() == [DAY1, DAY3, "prod-aurora"]  # day 1 waits out the grace; day 2 does not
    fake_time.advance(seconds=3600)
    run("clean_devdb")
    assert aws.cluster_ids() == [DAY3, "prod-aurora"]
