"""One run at a time, really (issue 19), in-process against moto: the fencing check before each change,
a branch's expiry read again under its lease right before deleting it, and a deleted clone's record
staying deleted while AWS is still deleting it. The real-process counterparts are in test_runs_e2e.py."""

from datetime import timedelta

import pytest

from devdb import conf, history, runner
from devdb.aws import Gateway
from devdb.engine import Branch
from devdb.errors import LeaseLost, RunFailed
from devdb.locks import DbNow, Lease, lease_name
from devdb.models import CloneEvent, CloneRecord, TargetLease
from sandbox import aws_rules

pytestmark = pytest.mark.django_db(databases="__all__")  # control_db: tests/conftest.py


def transitions(cluster_id):
    return [(e.from_state, e.to_state) for e in CloneEvent.objects.filter(record__cluster_id=cluster_id)
            if e.from_state != e.to_state]


def branch_engine(clock, name="feat"):
    settings = conf.get_settings()
    return Branch(settings.targets["dev"], Gateway(max_attempts=3), settings, name, clock=clock)


# --- 1. the fencing check ------------------------------------------------------------------------


def test_a_run_whose_lease_was_taken_over_stops_before_its_next_change(aws, devdb_settings, clock):
    """The link froze past LOCK_EXPIRY and another run took the lease over: the first run's next
    change is not made; the run fails with exit status 3 saying so in one line."""
    made = []

    def step(engine):
        engine.lookup()
        # Frozen past the expiry, meanwhile taken over by a run on worker-2:
        TargetLease.objects.filter(target="dev").update(expires_at=DbNow(-1))
        Lease("dev", host="worker-2").acquire()
        engine.changes.make("a change", lambda: made.append("made"))

    with pytest.raises(RunFailed) as info:
        runner.run(["dev"], step)
    assert info.value.exit_code == 3
    [outcome] = info.value.outcomes
    assert "\n" not in outcome.error
    assert "lost its lease" in outcome.error and "host worker-2" in outcome.error
    assert "stopped before its next change" in outcome.error
    assert made == [] and outcome.actions == []
    assert TargetLease.objects.get(target="dev").host == "worker-2"  # the loser left the winner's lease alone


def test_refresh_makes_no_aws_change_once_the_lease_is_lost(aws, devdb_settings, clock):
    def step(engine):
        TargetLease.objects.filter(target="dev").update(token="taken-over", host="worker-2")
        engine.refresh()

    with pytest.raises(RunFailed) as info:
        runner.run(["dev"], step)
    assert info.value.exit_code == 3
    assert not [c for c in aws.cluster_ids() if c.startswith("dev-")]
    assert CloneRecord.objects.count() == 0


def test_each_change_renews_the_lease(aws, devdb_settings, clock):
    def step(engine):
        TargetLease.objects.filter(target="dev").update(expires_at=DbNow(-1))  # would be taken over...
        engine.changes.make("a change", lambda: None)  # ...but the change renews it first

    runner.run(["dev"], step)
    # renewed, then released at the end of the run
    assert not TargetLease.objects.exists()


# --- 3. branch expiry re-read under the branch's lease ---------------------------------------------


@pytest.fixture
def expired_branch(aws, devdb_settings, clock, make_engine):
    """Branch feat, made with a 1h TTL, and a daily engine that looked the account up 2 hours later (so it
    has read feat as expired)."""
    branch_engine(clock).create("1h", owner="alice")
    clock.advance(hours=2)
    daily = make_engine()
    daily.lookup()
    assert daily.branch_names() == ["feat"]
    return daily


def test_an_extend_made_after_the_lookup_wins_over_the_expiry(aws, expired_branch, clock):
    new_expiry = branch_engine(clock).extend("3d")["expires_at"]
    expired_branch.expire_branches()
    assert "dev-feat" in aws.cluster_ids()
    assert aws.record("feat.db.dev.example.com")
    record = history.find("dev-feat")
    assert record.state == "connected"
    assert record.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") == new_expiry  # not written back to the old one


def test_a_branch_whose_lease_is_held_is_not_deleted(aws, expired_branch, clock):
    held = Lease(lease_name("dev", "feat")).acquire()  # e.g. `branch_devdb extend feat` running now
    expired_branch.expire_branches()
    assert "dev-feat" in aws.cluster_ids()
    held.release()
    expired_branch.lookup()
    expired_branch.expire_branches()  # still expired, lease free: deleted
    assert "dev-feat" not in aws.cluster_ids()
    assert history.find("dev-feat").state == "deleted"
    assert not TargetLease.objects.exists()  # the branch's lease was released


# --- 6. history is monotonic --------------------------------------------------------------------


@pytest.fixture
def realistic_sim():
    """The sandbox's realistic rules in this process for one test (SIM is process-wide: switched back after)."""
    yield aws_rules.SIM
    aws_rules.SIM.configure(realistic=False)
    aws_rules.SIM.reset()


def test_a_clone_being_deleted_stays_deleted(aws, devdb_settings, make_engine, clock, realistic_sim):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 0
    make_engine().refresh()
    first = next(c for c in aws.cluster_ids() if c.startswith("dev-"))
    clock.advance(days=1)
    day2 = make_engine()
    day2.clean = lambda *args, **kwargs: []  # this morning stops short of deleting yesterday's (aborted) clone
    day2.refresh()
    assert aws.tags(first)["devdb:state"] == "aborted"
    # AWS takes its time deleting from now on.
    realistic_sim.configure(realistic=True, throttle=0, scale=1000)
    realistic_sim.regions.add(("123456789012", "us-east-1"))  # what the server's dispatch does per request
    realistic_sim.settle()  # the tags as they are now, visible to the tagging API at once
    clock.advance(hours=2)
    engine = make_engine()
    engine.lookup()
    assert engine.clean(grace=0) == [first]
    assert aws.cluster(first)["Status"] == "deleting"
    assert history.find(first).state == "deleted"
    for _ in range(2):  # later runs find it still there, still tagged aborted
        clock.advance(minutes=5)
        engine = make_engine()
        engine.sync()
        engine.clean(grace=0)
        assert history.find(first).state == "deleted"
    assert transitions(first)[-2:] == [("connected", "aborted"), ("aborted", "deleted")]
    assert [to for _, to in transitions(first)].count("deleted") == 1


def test_mirror_never_reopens_a_deleted_record(aws, devdb_settings, clock):
    at = clock.now()
    history.mirror(target="dev", cluster_id="dev-20261122", state="created", at=at)
    history.mirror(target="dev", cluster_id="dev-20261122", state="aborted", at=at + timedelta(minutes=1))
    history.mirror(target="dev", cluster_id="dev-20261122", state="deleted", at=at + timedelta(minutes=2))
    history.mirror(target="dev", cluster_id="dev-20261122", state="aborted", at=at + timedelta(minutes=3))
    record = history.find("dev-20261122")
    assert record.state == "deleted" and record.state_since == at + timedelta(minutes=2)
    assert [to for _, to in transitions("dev-20261122")] == ["created", "aborted", "deleted"]


# --- 5. the admin's and status_devdb's failure queries at scale ------------------------------------------


def failing_history(count):
    """`count` records over 5 targets, one a day each, every one failed (created -> aborted) but each
    target's newest, live; `demo`'s newest failed too, after its live one: the shape that made the old
    banner query quadratic."""
    from bench.admin_changelist import NOW, TARGETS

    records = []
    for n in range(count):
        target = TARGETS[n % len(TARGETS)]
        created = NOW - timedelta(days=n // len(TARGETS), minutes=n % len(TARGETS))
        live = (n < len(TARGETS) and target != "demo") or n == 2 * len(TARGETS) - 1
        records.append(CloneRecord(
            target=target, cluster_id=f"{target}-{created:%Y%m%d}", source="prod", created_at=created,
            state="connected" if live else "deleted", state_since=created + timedelta(minutes=30),
            connected_at=created + timedelta(minutes=13) if live else None, last_error="" if live else "timed out"))
    CloneRecord.objects.bulk_create(records, batch_size=1000)
    events = [CloneEvent(record_id=pk, at=NOW, from_state="created", to_state="aborted")
              for pk, state in CloneRecord.objects.values_list("id", "state") if state != "connected"]
    CloneEvent.objects.bulk_create(events, batch_size=2000)
    return TARGETS


def test_the_failure_queries_answer_right_on_a_failure_heavy_history(admin_client):
    """The admin banner's "last run failed" and status_devdb's failures, rewritten without a subquery run
    once per record, on 2,000 records nearly all failed (on each control database). Their speed at
    50,000 records is measured by bench/admin_changelist.py (BENCHMARKS.md), not asserted here."""
    from devdb.admin import where_names_point
    from devdb.management.commands.status_devdb import failures

    targets = failing_history(2_000)
    banner = {row["target"]: row["failed"] for row in where_names_point()}
    status = {target: failures(target) for target in targets}
    # The newest clone of `demo` failed (the banner shows it); every other target's newest is live.
    assert banner["demo"].cluster_id == "demo-20261122" and banner["dev"] is None
    assert [f["cluster"] for f in status["demo"]] == ["demo-20261122"]
    assert all(status[target] == [] for target in targets if target != "demo")
    response = admin_client.get("/admin/devdb/clonerecord/")
    assert response.status_code == 200 and "demo-20261122" in response.content.decode()


def test_last_run_failed_reads_the_daily_line_only_and_breaks_a_tie_by_id():
    """The banner's skip scan: a newer failed branch does not hide a live daily clone, a target with only
    branches has no "last run failed", two daily records created at the same moment: the higher id wins."""
    from bench.admin_changelist import NOW

    from devdb.models import newest_failed

    def record(target, name, created, failed, branch=""):
        made = CloneRecord.objects.create(target=target, cluster_id=name, source="prod", created_at=created,
                                          state="deleted" if failed else "connected", state_since=created,
                                          connected_at=None if failed else created, branch=branch)
        if failed:
            CloneEvent.objects.create(record=made, at=created, from_state="created", to_state="aborted")
        return made

    record("dev", "dev-1", NOW - timedelta(days=1), failed=True)
    record("dev", "dev-2", NOW, failed=False)
    record("dev", "dev-b-feature", NOW + timedelta(hours=1), failed=True, branch="feature")
    record("alpha", "alpha-b-x", NOW, failed=True, branch="x")  # a target seen only through a branch
    record("qa", "qa-2", NOW, failed=False)
    record("qa", "qa-3", NOW, failed=True)  # same created time, higher id: the newest
    record("zeta", "zeta-1", NOW, failed=True)
    assert sorted(r.cluster_id for r in newest_failed()) == ["qa-3", "zeta-1"]
    assert [r.cluster_id for r in newest_failed("feature")] == ["dev-b-feature"]
