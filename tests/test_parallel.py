"""refresh_devdb with several targets: concurrent (--parallel N, default min(4, targets)), each under
its own lease; one target's failure does not stop the others, is reported, and the exit status is 1.

Concurrency is observed from inside real `manage.py` processes: a settings module (written to
tmp_path) connects a clone_ready receiver - it runs while the target's lease is held - that waits
until the expected number of targets are there at once, reads the lease rows, and writes what it
saw to a JSON-lines file. In-process threads need a control DB that takes concurrent writers: the
in-memory shared-cache SQLite test DB answers "database table is locked" instead of waiting, so
the in-process concurrency test runs on the MariaDB pass only (DEVDB_TEST_CONTROL_DB=mysql).
"""

import json
import threading

import pytest
from django.core.management import CommandError, call_command

from devdb.locks import Lease
from devdb.models import CloneRecord, TargetLease
from devdb.signals import clone_ready
from tests.conftest import target_settings
from tests.project import DAY1, devdb_project, unstamped  # noqa: F401 (fixture)

GOOD = ["alpha", "beta", "gamma", "delta", "epsilon"]

OVERLAP_CODE = '''
import json
import threading


class Overlap:
    """clone_ready receiver: count the targets that are ready (holding their leases) at once."""

    def __init__(self, expected, total, path, timeout=30):
        self.expected, self.total, self.path, self.timeout = expected, total, path, timeout
        self.cond = threading.Condition()
        self.active = self.arrived = self.looked = 0

    def __call__(self, sender, target, cluster_id, **kwargs):
        from devdb.models import TargetLease

        with self.cond:
            self.active += 1
            self.arrived += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.active >= self.expected or self.arrived >= self.total, self.timeout)
            active = self.active
        leases = sorted(TargetLease.objects.using("devdb").values_list("target", flat=True))
        with self.cond:
            self.looked += 1
            with open(self.path, "a") as out:
                out.write(json.dumps({"target": target, "thread": threading.current_thread().name,
                                      "active": active, "leases": leases}) + "\\n")
            self.cond.notify_all()
            # Hold on until each target of the group has looked at the leases.
            self.cond.wait_for(lambda: self.looked >= min(self.expected, self.total) or self.arrived >= self.total,
                               self.timeout)
            self.active -= 1
            self.cond.notify_all()
'''

SETTINGS_MODULE = '''
from project.settings import *  # noqa: F401,F403
from devdb.signals import clone_ready

{overlap}

DEVDB = {{"DATABASE": "devdb", "TARGETS": {targets!r}}}
OBSERVER = Overlap({expected}, {total}, {path!r})
clone_ready.connect(OBSERVER, weak=False)
'''


def multi_target_project(devdb_project, tmp_path, good, broken=None, *, expected, total=None):
    """A project whose settings module configures `good` targets (+ `broken`: name -> overrides)."""
    project = devdb_project()
    targets = {n: target_settings(project.zone_id, RECORD_NAME=f"{n}.dev.example.com") for n in good}
    for name, overrides in (broken or {}).items():
        targets[name] = target_settings(project.zone_id, RECORD_NAME=f"{name}.dev.example.com", **overrides)
    observed = tmp_path / "overlap.jsonl"
    (tmp_path / "multi_settings.py").write_text(SETTINGS_MODULE.format(
        overlap=OVERLAP_CODE, targets=targets, expected=expected, total=total or len(good), path=str(observed)))
    project.base_env["DJANGO_SETTINGS_MODULE"] = "multi_settings"
    project.base_env["PYTHONPATH"] = f"{tmp_path}:{project.env(DAY1)['PYTHONPATH']}"
    project.observed = observed
    return project


def observations(project):
    lines = project.observed.read_text().splitlines() if project.observed.exists() else []
    project.observed.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


def set_expected(project, tmp_path, expected, total):
    text = (tmp_path / "multi_settings.py").read_text()
    head, _, _ = text.rpartition("OBSERVER = Overlap(")
    (tmp_path / "multi_settings.py").write_text(
        head + f"OBSERVER = Overlap({expected}, {total}, {str(project.observed)!r})\n"
        "clone_ready.connect(OBSERVER, weak=False)\n")


def live(project, name, day="20261122"):
    clusters = project.clusters()
    ids = [c for c in clusters if c.startswith(f"{name}-")]
    assert ids == [f"{name}-{day}"]
    tags = {t["Key"]: t["Value"] for t in clusters[ids[0]]["TagList"]}
    assert (tags["devdb:state"], tags["devdb:target"]) == ("connected", name)
    sets = project.route53.list_resource_record_sets(HostedZoneId=project.zone_id)["ResourceRecordSets"]
    value = [s["ResourceRecords"][0]["Value"] for s in sets if s["Name"] == f"{name}.dev.example.com."]
    assert value == [clusters[ids[0]]["Endpoint"]]


@pytest.mark.e2e
def test_default_runs_min_4_of_5_targets_at_once_each_under_its_own_lease(devdb_project, tmp_path):
    project = multi_target_project(devdb_project, tmp_path, GOOD, expected=4)
    result = project.refresh(DAY1)
    seen = observations(project)
    assert sorted(s["target"] for s in seen) == sorted(GOOD)
    assert max(s["active"] for s in seen) == 4  # min(4, 5 targets): never 5
    peak = [s for s in seen if s["active"] == 4]
    assert len(peak) == 4 and len({s["thread"] for s in peak}) == 4
    for s in peak:  # four targets at once, each holding its own lease
        assert len(s["leases"]) >= 4 and s["target"] in s["leases"]
    assert project.leases() == []
    for name in GOOD:
        live(project, name)
    assert [line.split(":")[0] for line in unstamped(result.stdout).splitlines()] == GOOD  # one line each, in order
    records = project.records()
    assert {cid: r["state"] for cid, r in records.items()} == {f"{n}-20261122": "connected" for n in GOOD}


@pytest.mark.e2e
def test_parallel_option_caps_the_targets_at_once(devdb_project, tmp_path):
    project = multi_target_project(devdb_project, tmp_path, GOOD, expected=1, total=2)
    project.refresh(DAY1, "alpha", "beta", "--parallel", "1")
    seen = observations(project)
    assert [s["target"] for s in seen] == ["alpha", "beta"]  # one after the other, in order
    assert [s["active"] for s in seen] == [1, 1]
    assert [s["leases"] for s in seen] == [["alpha"], ["beta"]]

    set_expected(project, tmp_path, expected=3, total=3)
    project.refresh(DAY1, "gamma", "delta", "epsilon", "--parallel", "3")
    seen = observations(project)
    assert max(s["active"] for s in seen) == 3
    assert all(sorted(s["leases"]) == ["delta", "epsilon", "gamma"] for s in seen)
    for name in GOOD:
        live(project, name)


@pytest.mark.e2e
def test_command_line_reports_each_failed_target_and_exits_1(devdb_project, tmp_path):
    project = multi_target_project(
        devdb_project, tmp_path, ["alpha", "beta"], expected=2,
        broken={"broken": {"SOURCE_CLUSTER": "missing-aurora"}, "lost": {"HOSTED_ZONE_ID": "Z0000000000NOPE"}},
    )
    result = project.refresh(DAY1, "--parallel", "4", check=False)
    assert result.returncode == 1, result.stderr
    stdout = unstamped(result.stdout).splitlines()
    assert [line for line in stdout if "FAILED" in line] == [
        "broken: FAILED: SOURCE_CLUSTER: cluster missing-aurora does not exist",
        "lost: FAILED: HOSTED_ZONE_ID: hosted zone Z0000000000NOPE does not exist",
    ]
    # 6: the production-like source's IAM role is added to each clone too.
    assert "alpha: 6 change(s); created alpha-20261122; alpha-20261122 is connected" in stdout
    assert "beta: 6 change(s); created beta-20261122; beta-20261122 is connected" in stdout
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        "refresh_devdb: error: broken: SOURCE_CLUSTER: cluster missing-aurora does not exist; "
        "lost: HOSTED_ZONE_ID: hosted zone Z0000000000NOPE does not exist"
    ]
    assert "Traceback" not in result.stderr
    # The good ones ran side by side while the others failed.
    seen = observations(project)
    assert sorted(s["target"] for s in seen) == ["alpha", "beta"] and max(s["active"] for s in seen) == 2
    assert sorted(c for c in project.clusters() if c != "prod-aurora") == ["alpha-20261122", "beta-20261122"]
    assert project.leases() == []
    assert {r["cluster_id"]: r["state"] for r in project.records().values()} == {
        "alpha-20261122": "connected", "beta-20261122": "connected"}
    status = json.loads(project.manage("status_devdb", "--json", "alpha", "beta", now=DAY1).stdout)
    assert [t["points_at_clone"] for t in status["targets"]] == ["alpha-20261122", "beta-20261122"]


# --- in-process --------------------------------------------------------------------------------------

def configure(settings, aws, names, **broken):
    targets = {n: target_settings(aws.zone_id, RECORD_NAME=f"{n}.dev.example.com") for n in names}
    for name, overrides in broken.items():
        targets[name] = target_settings(aws.zone_id, RECORD_NAME=f"{name}.dev.example.com", **overrides)
    settings.DEVDB = {"DATABASE": "devdb", "TARGETS": targets, "POLL_INITIAL": 0.01, "POLL_MAX": 0.05}


def connected(aws, name):
    ids = [c for c in aws.cluster_ids() if c.startswith(f"{name}-")]
    assert len(ids) == 1, ids
    assert aws.tags(ids[0])["devdb:state"] == "connected"
    assert aws.record(f"{name}.dev.example.com") == aws.cluster(ids[0])["Endpoint"]
    return ids[0]


@pytest.mark.django_db(databases="__all__")
def test_a_failing_target_does_not_stop_the_others(settings, aws, capsys):
    configure(settings, aws, ["alpha", "beta"],
              broken={"SOURCE_CLUSTER": "missing-aurora"}, lost={"HOSTED_ZONE_ID": "Z0000000000NOPE"})
    with pytest.raises(CommandError) as info:
        call_command("refresh_devdb", "alpha", "broken", "lost", "beta", "--parallel", "1")
    assert info.value.returncode == 1
    message = str(info.value)
    assert message == ("broken: SOURCE_CLUSTER: cluster missing-aurora does not exist; "
                       "lost: HOSTED_ZONE_ID: hosted zone Z0000000000NOPE does not exist")
    for name in ("alpha", "beta"):  # also the one after the failures
        assert CloneRecord.objects.get(cluster_id=connected(aws, name)).state == "connected"
    assert not [c for c in aws.cluster_ids() if c.startswith(("broken-", "lost-"))]
    out = unstamped(capsys.readouterr().out).splitlines()
    # A failed target prints its failure only (never "nothing to do" before it), in the targets' order.
    assert [line.split(":")[0] for line in out] == ["alpha", "broken", "lost", "beta"]
    assert [line.split(":")[0] for line in out if "FAILED" not in line] == ["alpha", "beta"]
    assert [line for line in out if ": FAILED: " in line] == [
        "broken: FAILED: SOURCE_CLUSTER: cluster missing-aurora does not exist",
        "lost: FAILED: HOSTED_ZONE_ID: hosted zone Z0000000000NOPE does not exist",
    ]
    assert TargetLease.objects.using("devdb").count() == 0


@pytest.mark.django_db(databases="__all__")
def test_one_target_locked_the_others_run_and_the_status_is_3(settings, aws):
    configure(settings, aws, ["alpha", "beta"])
    Lease("beta", host="worker-2").acquire()
    with pytest.raises(CommandError) as info:
        call_command("refresh_devdb", "--parallel", "1")
    assert info.value.returncode == 3  # the only failure is a lock
    assert str(info.value).startswith("beta: target 'beta' is locked by another run: host worker-2 pid ")
    connected(aws, "alpha")
    assert not [c for c in aws.cluster_ids() if c.startswith("beta-")]
    assert list(TargetLease.objects.using("devdb").values_list("target", "host")) == [("beta", "worker-2")]


@pytest.mark.django_db(databases="__all__")
def test_a_lock_and_a_failure_exit_1(settings, aws):
    configure(settings, aws, ["alpha", "beta"], broken={"SOURCE_CLUSTER": "missing-aurora"})
    Lease("beta", host="worker-2").acquire()
    with pytest.raises(CommandError) as info:
        call_command("refresh_devdb", "--parallel", "1")
    assert info.value.returncode == 1
    connected(aws, "alpha")


@pytest.mark.control_db  # run by scripts/test's MariaDB pass, the one it can run in
@pytest.mark.skipif(
    __import__("os").environ.get("DEVDB_TEST_CONTROL_DB") != "mysql",
    reason="in-memory shared-cache SQLite fails concurrent writers ('database table is locked'); "
           "the e2e tests above cover concurrency on SQLite",
)
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_in_process_threads_each_hold_their_own_lease(settings, aws):
    configure(settings, aws, GOOD[:3])
    barrier = threading.Barrier(3, timeout=20)
    seen = []

    def meet(sender, target, **kwargs):
        barrier.wait()  # all three ready at once, or BrokenBarrierError fails the run
        seen.append((target, threading.current_thread().name,
                     sorted(TargetLease.objects.using("devdb").values_list("target", flat=True))))
        barrier.wait()

    clone_ready.connect(meet, weak=False)
    try:
        call_command("refresh_devdb")  # default: min(4, 3) = 3 at once
    finally:
        clone_ready.disconnect(meet)
    assert sorted(t for t, _, _ in seen) == sorted(GOOD[:3])
    assert len({thread for _, thread, _ in seen}) == 3
    assert all(leases == sorted(GOOD[:3]) for _, _, leases in seen)
    assert TargetLease.objects.using("devdb").count() == 0
    for name in GOOD[:3]:
        connected(aws, name)


@pytest.mark.django_db(databases="__all__")
def test_an_unexpected_error_in_one_target_does_not_stop_the_others(settings, aws, monkeypatch):
    from devdb.engine import Engine

    configure(settings, aws, GOOD[:2])
    real_clone = Engine.clone

    def clone(self):
        if self.target.name == "alpha":
            raise ZeroDivisionError("surprise")
        return real_clone(self)

    monkeypatch.setattr(Engine, "clone", clone)
    with pytest.raises(CommandError) as info:
        call_command("refresh_devdb", "--parallel", "1")
    assert info.value.returncode == 1
    assert "alpha: unexpected ZeroDivisionError: surprise" in str(info.value)
    connected(aws, "beta")
