"""Waiting for a clone: few describe calls, capped exponential backoff, quick to notice, lease kept alive.

The writer instance becomes available 15 minutes after it was created. With POLL_INITIAL=5,
POLL_FACTOR=1.5 and POLL_MAX=30 the engine should poll about 35 times (not every few seconds) and
notice within POLL_MAX. Each poll reads the cluster and its writer, so that a failed clone
(`cloning-failed`, `incompatible-*`...) ends the wait at once. Time is a fake clock; nothing sleeps.

AWS's states that moto skips are simulated with small fakes: a cluster `creating` for a while, a
change refused with InvalidDBClusterStateFault, a clone that fails, a password being reset.
"""

from datetime import timedelta
from types import SimpleNamespace

import boto3
import pytest
from django.core.management import call_command

from devdb import conf, lifecycle, locks, runner
from devdb import engine as engine_module
from devdb.aws import Cluster, Gateway, Instance
from devdb.engine import Engine
from devdb.models import CloneRecord
from devdb.errors import CloneFailed, DevdbError
from tests.aws_calls import on_request
from tests.conftest import START, FakeClock

# A bare source (port 3306, no IAM role): these tests pin call sequences and SQL against the MariaDB
# server here; the production-like source is exercised by test_parity, test_e2e and the realistic tests.
pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]

AVAILABLE_AFTER = timedelta(minutes=15)
DESCRIBES = ("DescribeDBInstances", "DescribeDBClusters")


def assert_capped_exponential(sleeps, initial=5, factor=1.5, cap=30):
    assert sleeps[0] == initial
    for before, after in zip(sleeps, sleeps[1:]):
        assert after == pytest.approx(min(before * factor, cap))
    assert max(sleeps) == cap


class SlowWriter:
    """On a moto Gateway: today's writer reports 'creating' until 15 minutes after CreateDBInstance.

    Records each call with the fake time it was made at.
    """

    def __init__(self, gateway, clock, cluster_id):
        self.clock, self.cluster_id = clock, cluster_id
        self.created_at = None
        self.calls = []  # (operation, time)
        on_request(gateway, lambda operation, params, service: self._record(operation))
        gateway.rds.meta.events.register("after-call.rds.DescribeDBInstances", self._patch)

    @property
    def available_at(self):
        return self.created_at + AVAILABLE_AFTER

    def _record(self, operation):
        self.calls.append((operation, self.clock.now()))
        if operation == "CreateDBInstance":
            self.created_at = self.clock.now()

    def _patch(self, parsed, **kwargs):
        for item in parsed.get("DBInstances", []):
            if item.get("DBClusterIdentifier") == self.cluster_id and self.clock.now() < self.available_at:
                item["DBInstanceStatus"] = "creating"

    def waiting_calls(self):
        """The calls between creating the writer and tagging the clone ready."""
        ops = [op for op, _ in self.calls]
        start = ops.index("CreateDBInstance") + 1
        end = ops.index("TagResources", start)
        return self.calls[start:end]


def test_refresh_waits_with_few_describe_calls_and_notices_within_poll_max(aws, make_engine, clock):
    gateway = Gateway(max_attempts=3)
    slow = SlowWriter(gateway, clock, "dev-20261122")
    beats = []
    make_engine(gateway=gateway, heartbeat=lambda: beats.append(clock.now())).refresh()

    waiting = slow.waiting_calls()
    assert {op for op, _ in waiting} <= set(DESCRIBES)
    # Each poll describes the cluster (a failed clone ends the wait at once) and its writer: two calls.
    assert len(waiting) <= 80
    assert [op for op, _ in waiting] == list(DESCRIBES[::-1]) * (len(waiting) // 2)
    # Noticed: tagged ready within 30 s of the writer becoming available (and not before).
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert slow.available_at <= record.ready_at <= slow.available_at + timedelta(seconds=30)
    assert record.connected_at == record.ready_at  # then connected at once
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    # Polls: 5 s, growing by 1.5, capped at POLL_MAX (30 s).
    assert_capped_exponential(clock.sleeps)
    assert sum(clock.sleeps) == (record.ready_at - slow.created_at).total_seconds()
    # The lease is renewed between polls, all through the wait.
    assert len(beats) == len(clock.sleeps)
    assert beats[0] == slow.created_at
    assert beats[-1] >= slow.available_at - timedelta(seconds=30)


class StubGateway:
    """Just what wait_ready needs: the writer is 'creating' until available_at (None: never)."""

    def __init__(self, clock, available_at):
        self.clock, self.available_at = clock, available_at
        self.describes = []
        self.tagged = []

    def _status(self):
        return "available" if self.available_at and self.clock.now() >= self.available_at else "creating"

    def instances(self, cluster_ids):
        self.describes.append(("instances", self.clock.now()))
        (cluster_id,) = cluster_ids
        return self._writers(cluster_id)

    def _writers(self, cluster_id):
        return [Instance(id=f"{cluster_id}-1", arn=f"arn:db:{cluster_id}-1", status=self._status(),
                         cluster_id=cluster_id, tags={})]

    def cluster(self, cluster_id, instances=True):
        self.describes.append(("cluster", self.clock.now()))
        cluster = Cluster(id=cluster_id, arn=f"arn:cluster:{cluster_id}", status=self.cluster_status(),
                          endpoint=f"{cluster_id}.cluster-x.rds.amazonaws.com", port=3306, engine="aurora-mysql",
                          engine_version=None)
        if instances:
            cluster.instances = self._writers(cluster_id)  # one DescribeDBClusters (+ its instances) call
        return cluster

    def cluster_status(self):
        return "available"

    def tag(self, arns, tags):
        self.tagged.append((list(arns), dict(tags), self.clock.now()))


def stub_engine(settings, clock, gateway, **devdb):
    settings.DEVDB = {"DATABASE": "devdb", "TARGETS": {"dev": {
        "SOURCE_CLUSTER": "prod-aurora", "HOSTED_ZONE_ID": "Z0123456789ABC", "RECORD_NAME": "db.dev.example.com",
        "INSTANCE_CLASS": "db.t4g.medium", **devdb}}}  # POLL_* left at their defaults (5 s, x1.5, 30 s)
    parsed = conf.get_settings()
    beats = []
    engine = Engine(parsed.targets["dev"], gateway, parsed, clock=clock, heartbeat=lambda: beats.append(clock.now()))
    cluster = Cluster(id="dev-20261122", arn="arn:cluster:dev-20261122", status="creating", endpoint=None, port=None,
                      engine="aurora-mysql", engine_version=None,
                      tags=lifecycle.clone_tags("dev", "prod-aurora", "created", clock.now()))
    cluster.instances = [Instance(id="dev-20261122-1", arn="arn:db:dev-20261122-1", status="creating",
                                  cluster_id="dev-20261122", tags=dict(cluster.tags))]
    engine.clones[cluster.id] = cluster
    return engine, cluster, beats


def test_wait_for_a_writer_available_after_15_minutes(settings):
    clock = FakeClock()
    gateway = StubGateway(clock, START + AVAILABLE_AFTER)
    engine, cluster, beats = stub_engine(settings, clock, gateway)
    engine.wait_ready(cluster)

    assert len(gateway.describes) <= 40
    noticed = gateway.tagged[0][2]
    assert gateway.tagged[0][1]["devdb:state"] == "ready"
    assert START + AVAILABLE_AFTER <= noticed <= START + AVAILABLE_AFTER + timedelta(seconds=30)
    assert_capped_exponential(clock.sleeps)
    # Each poll describes the cluster with its writer (the cluster's status is checked every time).
    assert {op for op, _ in gateway.describes} == {"cluster"}
    assert len(clock.sleeps) == len(gateway.describes) - 1
    assert len(beats) == len(clock.sleeps) and beats[0] == START


def test_poll_interval_follows_the_settings(settings):
    clock = FakeClock()
    gateway = StubGateway(clock, START + timedelta(hours=1))
    settings_extra = {"READY_TIMEOUT": 7200}
    engine, cluster, _ = stub_engine(settings, clock, gateway, **settings_extra)
    settings.DEVDB.update(POLL_INITIAL=2, POLL_FACTOR=2, POLL_MAX=60)
    engine.settings = conf.get_settings()
    engine.wait_ready(cluster)
    assert clock.sleeps[:6] == [2, 4, 8, 16, 32, 60]
    assert set(clock.sleeps[5:]) == {60}
    assert gateway.tagged[0][2] <= START + timedelta(hours=1, seconds=60)


def test_a_wait_that_times_out_stops_at_the_deadline_and_aborts(settings):
    clock = FakeClock()
    gateway = StubGateway(clock, None)  # never available
    engine, cluster, beats = stub_engine(settings, clock, gateway, READY_TIMEOUT=1000)
    with pytest.raises(CloneFailed, match=r"READY_TIMEOUT \(1000s\)"):
        engine.wait_ready(cluster)
    # The last sleep is cut short so the final poll is at the deadline, not up to POLL_MAX after it.
    assert sum(clock.sleeps) == 1000
    assert clock.now() == START + timedelta(seconds=1000)
    assert len(gateway.describes) <= 45
    # Cluster and writer tagged aborted in one call.
    assert [(arns, tags["devdb:state"]) for arns, tags, _ in gateway.tagged] == [
        (["arn:cluster:dev-20261122", "arn:db:dev-20261122-1"], "aborted")]
    assert CloneRecord.objects.get().last_error.startswith("did not become available within READY_TIMEOUT")


def test_refresh_command_renews_the_lease_while_waiting(aws, devdb_settings, clock, monkeypatch):
    monkeypatch.setattr(engine_module, "Clock", lambda: clock)
    session = boto3.session.Session()
    watchers = []

    def slow_gateway(**kwargs):
        gateway = Gateway(session=session, **kwargs)
        watchers.append(SlowWriter(gateway, clock, "dev-20261122"))
        return gateway

    monkeypatch.setattr(runner, "Gateway", slow_gateway)
    renewed = []
    original = locks.Lease.renew

    def renew(self):
        renewed.append((self.target, clock.now()))
        return original(self)

    monkeypatch.setattr(locks.Lease, "renew", renew)
    call_command("refresh_devdb", verbosity=0)
    (slow,) = watchers
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert len(renewed) == len(clock.sleeps) > 20
    assert all(target == "dev" for target, _ in renewed)
    assert renewed[0][1] == slow.created_at
    assert renewed[-1][1] >= slow.available_at - timedelta(seconds=30)
    assert not locks.TargetLease.objects.exists()  # released at the end


# --- AWS's states, simulated where moto skips them ------------------------------------------------


def refuse(gateway, operation, code, message="", times=1, then=None):
    """AWS answers the next `times` calls of `operation` with error `code` (the call is not made);
    `then(body)` runs first (e.g. to make the refusal true). Returns the counts: calls, refusals left."""
    left = {"times": times, "calls": 0}

    def answer(params, **kwargs):
        left["calls"] += 1
        if left["times"] <= 0:
            return None
        left["times"] -= 1
        if then:
            then(params["body"])
        error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return SimpleNamespace(status_code=400, headers={}), error

    client = gateway.tagging if operation == "TagResources" else gateway.rds
    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", answer)
    return left


def report_cluster(gateway, cluster_id, status_of):
    """DescribeDBClusters reports `status_of(item)` (None: what moto says) for cluster_id."""

    def patch(parsed, **kwargs):
        for item in parsed.get("DBClusters", []):
            if item["DBClusterIdentifier"] == cluster_id and (status := status_of(item)):
                item["Status"] = status

    gateway.rds.meta.events.register("after-call.rds.DescribeDBClusters", patch)


def operations_at(gateway, clock):
    calls = []
    on_request(gateway, lambda operation, params, service: calls.append((operation, clock.now())))
    return calls


def yesterday_connected(make_engine, clock):
    make_engine().refresh()
    clock.advance(days=1)


def test_the_writer_is_created_only_once_the_restored_cluster_is_available(aws, make_engine, clock):
    gateway = Gateway(max_attempts=3)
    available_at = START + timedelta(minutes=6)
    report_cluster(gateway, "dev-20261122", lambda item: "creating" if clock.now() < available_at else None)
    # Before that, AWS refuses the writer.
    calls = operations_at(gateway, clock)
    make_engine(gateway=gateway).refresh()
    ops = [op for op, _ in calls]
    created_at = dict(calls)["CreateDBInstance"]
    assert available_at <= created_at <= available_at + timedelta(seconds=30)
    between = ops[ops.index("RestoreDBClusterToPointInTime") + 1:ops.index("CreateDBInstance")]
    assert set(between) == {"DescribeDBClusters"} and len(between) <= 20  # the cluster alone, one call a poll
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"


@pytest.mark.parametrize("operation, code", [("CreateDBInstance", "InvalidDBClusterStateFault"),
                                             ("CreateDBInstance", "InvalidDBInstanceState")])
def test_a_change_refused_while_the_cluster_is_busy_is_retried(aws, make_engine, clock, operation, code):
    gateway = Gateway(max_attempts=3)
    refused = refuse(gateway, operation, code, "DB cluster dev-20261122 is not currently in the available state.", times=2)
    make_engine(gateway=gateway).refresh()
    assert refused["times"] == 0 and refused["calls"] == 3
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert clock.sleeps[:2] == [5, 5]  # waited between tries


def test_a_change_refused_until_the_deadline_aborts_the_clone(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["READY_TIMEOUT"] = 600
    yesterday_connected(make_engine, clock)
    gateway = Gateway(max_attempts=3)
    refuse(gateway, "CreateDBInstance", "InvalidDBClusterStateFault", "busy", times=10_000)
    with pytest.raises(CloneFailed, match="writer dev-20261123-1 could not be created: .*InvalidDBClusterStateFault"):
        make_engine(gateway=gateway).refresh()
    assert clock.now() >= START + timedelta(days=1, seconds=600)
    # A failure never blocks cleanup: the writer-less clone is aborted and deleted, yesterday's stays live.
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]


@pytest.mark.parametrize("status", ["cloning-failed", "migration-failed", "inaccessible-encryption-credentials",
                                    "inaccessible-encryption-credentials-recoverable", "incompatible-parameters",
                                    "incompatible-network"])
def test_a_failed_status_ends_the_wait_at_once(aws, make_engine, clock, status):
    yesterday_connected(make_engine, clock)
    gateway = Gateway(max_attempts=3)
    report_cluster(gateway, "dev-20261123", lambda item: status)
    start = clock.now()
    with pytest.raises(CloneFailed, match=f"dev-20261123 aborted: AWS reports cluster {status}"):
        make_engine(gateway=gateway).refresh()
    assert "CreateDBInstance" not in gateway.operations
    assert clock.now() - start <= timedelta(seconds=120)  # the grace of 2 x TTL, not READY_TIMEOUT
    record = CloneRecord.objects.get(cluster_id="dev-20261123")
    assert status in record.last_error and record.state == "deleted"
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]


def test_a_writer_that_fails_while_waited_for_ends_the_wait_at_once(aws, make_engine, clock):
    gateway = Gateway(max_attempts=3)

    def patch(parsed, **kwargs):
        for item in parsed.get("DBInstances", []):
            if item["DBInstanceIdentifier"] == "dev-20261122-1":
                item["DBInstanceStatus"] = "incompatible-parameters"

    gateway.rds.meta.events.register("after-call.rds.DescribeDBInstances", patch)
    with pytest.raises(CloneFailed, match=r"writer dev-20261122-1 incompatible-parameters: .*set DB_PARAMETER_GROUP"):
        make_engine(gateway=gateway).refresh()
    assert sum(clock.sleeps) <= 120


def test_a_new_password_is_waited_for_until_aws_has_reset_it(aws, devdb_settings, make_engine, clock, monkeypatch):
    monkeypatch.setenv("DEVDB_TEST_CLONE_PASSWORD", "New-Passw0rd-for-dev")
    devdb_settings["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_CLONE_PASSWORD"
    gateway = Gateway(max_attempts=3)
    reset = {"asked": None}

    def answered(parsed, **kwargs):  # AWS: still 'available', the password pending
        reset["asked"] = clock.now()
        parsed["DBCluster"]["PendingModifiedValues"] = {"MasterUserPassword": "****"}

    def status(item):
        if reset["asked"] is None:
            return None
        elapsed = clock.now() - reset["asked"]
        if elapsed < timedelta(seconds=10):  # a moment of 'available' with the change pending
            item["PendingModifiedValues"] = {"MasterUserPassword": "****"}
            return "available"
        return "resetting-master-credentials" if elapsed < timedelta(minutes=2) else None

    gateway.rds.meta.events.register("after-call.rds.ModifyDBCluster", answered)
    report_cluster(gateway, "dev-20261122", status)
    make_engine(gateway=gateway).refresh()
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    done = reset["asked"] + timedelta(minutes=2)
    assert done <= record.ready_at <= done + timedelta(seconds=30)
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"


def test_a_password_reset_never_seen_is_done_after_a_full_poll_interval(aws, devdb_settings, make_engine, clock, monkeypatch):
    monkeypatch.setenv("DEVDB_TEST_CLONE_PASSWORD", "New-Passw0rd-for-dev")
    devdb_settings["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_CLONE_PASSWORD"
    gateway = Gateway(max_attempts=3)
    calls = operations_at(gateway, clock)
    make_engine(gateway=gateway).refresh()
    asked = dict(calls)["ModifyDBCluster"]
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert asked + timedelta(seconds=30) <= record.ready_at <= asked + timedelta(seconds=60)


def test_the_cluster_is_deleted_as_soon_as_its_instance_is_deleting(aws, make_engine, clock):
    yesterday_connected(make_engine, clock)
    gateway = Gateway(max_attempts=3)
    # The instance is already being deleted (a killed run asked): AWS refuses a second delete.
    refuse(gateway, "DeleteDBInstance", "InvalidDBInstanceState", "Instance dev-20261122-1 is already being deleted.",
           then=lambda params: aws.rds.delete_db_instance(DBInstanceIdentifier=params["DBInstanceIdentifier"],
                                                            SkipFinalSnapshot=True))
    # ... and the cluster refuses its deletion once (an instance not yet 'deleting' on its side).
    refuse(gateway, "DeleteDBCluster", "InvalidDBClusterStateFault", "Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
    calls = operations_at(gateway, clock)
    make_engine(gateway=gateway).refresh()
    ops = [op for op, _ in calls]
    assert ops[ops.index("DeleteDBInstance") + 1:] == ["DeleteDBCluster", "DeleteDBCluster"]
    assert aws.cluster_ids() == ["dev-20261123", "prod-aurora"]
    assert CloneRecord.objects.get(cluster_id="dev-20261122").state == "deleted"


def test_a_clone_that_cannot_be_made_does_not_block_connecting_and_cleaning(aws, devdb_settings, make_engine, clock):
    """Day 2's clone became ready but was never connected; day 3's restore is rejected: day 2's is
    still connected and day 1's cleaned, then the run fails naming the cause."""
    yesterday_connected(make_engine, clock)
    engine = make_engine()
    engine.lookup()
    engine.wait_ready(engine.clone())  # dev-20261123 ready, not connected
    clock.advance(days=1)
    gateway = Gateway(max_attempts=3)
    refuse(gateway, "RestoreDBClusterToPointInTime", "DBClusterQuotaExceededFault", "quota of 40 clusters reached")
    with pytest.raises(DevdbError, match="RestoreDBClusterToPointInTime failed: DBClusterQuotaExceededFault"):
        make_engine(gateway=gateway).refresh()
    assert aws.record() == aws.cluster("dev-20261123")["Endpoint"]
    assert aws.tags("dev-20261123")["devdb:state"] == "connected"
    assert aws.cluster_ids() == ["dev-20261123", "prod-aurora"]


def test_a_rejected_writer_leaves_no_cluster_behind(aws, make_engine, clock):
    yesterday_connected(make_engine, clock)
    gateway = Gateway(max_attempts=3)
    refuse(gateway, "CreateDBInstance", "InvalidParameterCombination", "RDS does not support creating a DB instance "
           "with the following combination: DBInstanceClass=db.t4g.medium")
    with pytest.raises(CloneFailed, match="writer dev-20261123-1 could not be created: .*InvalidParameterCombination"):
        make_engine(gateway=gateway).refresh()
    assert aws.cluster_ids() == ["dev-20261122", "prod-aurora"]
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    record = CloneRecord.objects.get(cluster_id="dev-20261123")
    assert record.state == "deleted" and "InvalidParameterCombination" in record.last_error


def test_a_stopped_clone_is_started_for_a_rollback(aws, devdb_settings, make_engine, clock):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    yesterday_connected(make_engine, clock)
    make_engine().refresh()  # dev-20261123 connected, dev-20261122 aborted, kept and stopped (it costs nothing)
    assert aws.cluster("dev-20261122")["Status"] == "stopped"
    gateway = Gateway(max_attempts=3)
    engine = make_engine(gateway=gateway)
    engine.preflight()
    engine.lookup()
    engine.connect(to="dev-20261122")
    assert "StartDBCluster" in gateway.operations
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]


def test_a_stopped_aborted_clone_is_started_and_deleted_in_the_same_run(aws, make_engine, clock):
    yesterday_connected(make_engine, clock)
    aws.rds.stop_db_cluster(DBClusterIdentifier="dev-20261122")
    gateway = Gateway(max_attempts=3)
    make_engine(gateway=gateway).refresh()  # connects dev-20261123; dev-20261122 is aborted but stopped
    # Started (its instances cannot be deleted while it is stopped), then deleted in the same run.
    ops = gateway.operations
    assert "StartDBCluster" in ops and ops.index("StartDBCluster") < ops.index("DeleteDBInstance")
    assert aws.cluster_ids() == ["dev-20261123", "prod-aurora"]


def refused_twice(result=None):
    """A probe step whose first two logins are refused (AWS still applying the new password)."""
    from devdb import probes

    tries = []

    def step(*args, **kwargs):
        tries.append(kwargs.get("port"))
        if len(tries) <= 2:
            raise probes.LoginRefused("authentication failed (1045): Access denied for user 'app'")
        return result

    return step, tries


def test_the_sql_probe_and_post_clone_scripts_retry_a_refused_login(aws, devdb_settings, make_engine, clock, monkeypatch, tmp_path):
    from devdb import probes

    script = tmp_path / "grants.sql"
    script.write_text("SELECT 1;")
    devdb_settings["TARGETS"]["dev"].update(READINESS_PROBE="sql", POST_CLONE_SQL=[str(script)])
    probe, probe_tries = refused_twice()
    run, run_tries = refused_twice()
    monkeypatch.setattr(probes, "sql_ready", probe)
    monkeypatch.setattr(probes, "run_script", run)
    make_engine().refresh()
    assert probe_tries == run_tries == [3306] * 3  # the clone's own port
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"


def test_a_login_refused_until_the_deadline_aborts_the_clone(aws, devdb_settings, make_engine, clock, monkeypatch, tmp_path):
    from devdb import probes

    script = tmp_path / "grants.sql"
    script.write_text("SELECT 1;")
    devdb_settings["TARGETS"]["dev"].update(POST_CLONE_SQL=[str(script)], READY_TIMEOUT=600)

    def refused(*args, **kwargs):
        raise probes.LoginRefused("authentication failed (1045): Access denied for user 'app'")

    monkeypatch.setattr(probes, "run_script", refused)
    with pytest.raises(CloneFailed, match=r"grants.sql: login refused until READY_TIMEOUT \(600s\)"):
        make_engine().refresh()
    assert clock.now() >= START + timedelta(seconds=600)


def test_a_wrong_password_is_a_refused_login_on_a_real_server(mariadb):
    from devdb import probes

    creds = {"user": mariadb["user"], "password": "not-the-password-engine9", "database": "", "port": mariadb["port"]}
    with pytest.raises(probes.LoginRefused, match=r"authentication failed \(1045\)"):
        probes.sql_ready(mariadb["host"], timeout=5, credentials=creds)
