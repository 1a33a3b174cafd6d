"""branch_devdb end to end: manage.py subprocesses against moto's standalone server (tests/project.py).

Two branches with their own DNS names and tags, listed, one extended, one deleted, one expired by moving
the clock, a reset, the quota refusal; the daily refresh runs alongside and ends exactly as it does in an
account without branches.
"""

import json

import pytest

from tests.project import DAY1, DAY2, RECORD, devdb_project, tags_of  # noqa: F401

NOON1 = "2026-11-22T12:00:00Z"
DAY3 = "2026-11-24T05:00:00Z"
DAY5 = "2026-11-26T05:00:00Z"


def branch(project, *args, now=DAY1, check=True, **extra):
    result = project.manage("branch_devdb", *args, now=now, check=check, **extra)
    if check and "--json" in args:
        return json.loads(result.stdout)
    return result


def cnames(project):
    sets = project.route53.list_resource_record_sets(HostedZoneId=project.zone_id)["ResourceRecordSets"]
    return {rs["Name"].rstrip("."): rs["ResourceRecords"][0]["Value"].rstrip(".").lower()
            for rs in sets if rs["Type"] == "CNAME"}


def daily_view(project):
    """The daily clone as the account and the records show it, branches left out; without times, so two
    projects run on the same simulated mornings compare equal."""
    def tags(item):
        return sorted((t["Key"], t["Value"]) for t in item.get("TagList", []) if t["Key"] != "devdb:state-since")

    clusters = {cid: (c["Status"], tags(c), sorted(m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers", [])))
                for cid, c in project.clusters().items() if not any(key == "devdb:branch" for key, _ in tags(c))}
    instances = {iid: (i["DBClusterIdentifier"], tags(i)) for iid, i in project.instances().items()
                 if i["DBClusterIdentifier"] in clusters}
    records = {cid: (r["state"], r["target"], r["branch"]) for cid, r in project.records().items() if not r["branch"]}
    return clusters, instances, (project.record_value() or "").rstrip(".").lower().split(".", 1)[0], records


def test_branch_lifecycle_alongside_the_daily_refresh(devdb_project):
    plain = devdb_project()
    plain.refresh(DAY1)
    plain.refresh(DAY2)
    expected = daily_view(plain)

    project = devdb_project()
    project.refresh(DAY1)
    feat = branch(project, "create", "feat", "--owner", "alice", "--json", now=NOON1)
    assert feat["host"] == f"feat.{RECORD}" and feat["state"] == "connected" and feat["port"] == 3307
    assert feat["expires_at"] == "2026-11-25T12:00:00Z" and feat["owner"] == "alice"
    short = branch(project, "create", "pr-7", "--ttl", "12h", "--json", now=NOON1)
    assert short["host"] == f"pr-7.{RECORD}" and short["expires_at"] == "2026-11-23T00:00:00Z"

    clusters = project.clusters()
    for name, cluster_id in (("feat", "dev-feat"), ("pr-7", "dev-pr-7")):
        tags = tags_of(clusters[cluster_id])
        assert tags["devdb:branch"] == name and tags["devdb:state"] == "connected"
        assert tags["devdb:managed-by"] == "django-devdb" and tags["devdb:target"] == "dev"
        assert tags["devdb:source"] == "prod-aurora" and "devdb:expires-at" in tags and "devdb:owner" in tags
        writer = project.instances()[f"{cluster_id}-1"]
        assert writer["DBInstanceClass"] == "db.serverless"
        assert tags_of(writer)["devdb:branch"] == name
        # Configured like the source; the source runs Aurora MySQL 3.05 (no auto-pause): 0.5 ACU.
        assert clusters[cluster_id]["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0.5
        assert cnames(project)[f"{name}.{RECORD}"] == clusters[cluster_id]["Endpoint"].lower()
    assert cnames(project)[RECORD] == clusters["dev-20261122"]["Endpoint"].lower()

    refused = branch(project, "create", "feat", now=NOON1, check=False)
    assert refused.returncode == 1 and "--reset" in refused.stderr

    listed = branch(project, "list", "--json", now=NOON1)
    assert [(b["branch"], b["state"], b["cname"]) for b in listed] == [("feat", "connected", True),
                                                                        ("pr-7", "connected", True)]

    extended = branch(project, "extend", "pr-7", "--ttl", "3d", "--json", now=NOON1)
    assert extended["expires_at"] == "2026-11-25T12:00:00Z"
    assert tags_of(project.clusters()["dev-pr-7"])["devdb:expires-at"] == "2026-11-25T12:00:00Z"

    gone = branch(project, "delete", "feat", "--json", now=NOON1)
    assert gone["state"] == "deleted"
    assert "dev-feat" not in project.clusters() and f"feat.{RECORD}" not in cnames(project)
    assert project.records()["dev-feat"]["state"] == "deleted"
    assert project.records()["dev-feat"]["branch"] == "feat"

    again = branch(project, "create", "feat", "--ttl", "90m", "--json", now=NOON1)
    assert again["cluster"] == "dev-feat-r261122120000" and again["state"] == "connected"

    # The next morning: the daily refresh expires feat (90 minutes) but not pr-7 (extended).
    project.refresh(DAY2)
    assert set(project.clusters()) >= {"dev-pr-7", "dev-20261123"}
    assert "dev-feat-r261122120000" not in project.clusters() and f"feat.{RECORD}" not in cnames(project)
    assert project.records()["dev-feat-r261122120000"]["state"] == "deleted"
    assert daily_view(project) == expected

    # Reset: a fresh clone takes over pr-7's name; the old one goes once the grace has passed.
    old_endpoint = cnames(project)[f"pr-7.{RECORD}"]
    reset = branch(project, "create", "pr-7", "--reset", "--json", now=DAY2)
    # The sandbox's clock ticks from DAY2 in real time: on a loaded machine the stamp may be a few seconds on.
    assert reset["cluster"].startswith("dev-pr-7-r26112305000") and reset["state"] == "connected"
    assert cnames(project)[f"pr-7.{RECORD}"] != old_endpoint
    assert "dev-pr-7" not in project.clusters()

    # A clean past its expiry deletes it with its CNAME.
    project.manage("clean_devdb", now=DAY5)
    assert not [c for c in project.clusters().values() if "devdb:branch" in tags_of(c)]
    assert set(cnames(project)) == {RECORD}


def test_branch_refused_when_the_quota_would_leave_no_room_for_tomorrows_clone(devdb_project, moto_server):
    project = devdb_project()
    project.refresh(DAY1)
    used = len(project.clusters())
    moto_server.configure(cluster_quota=used + 1)  # tomorrow's clone needs that one
    refused = branch(project, "create", "feat", now=NOON1, check=False)
    assert refused.returncode == 1 and "quota" in refused.stderr and "tomorrow" in refused.stderr
    assert "dev-feat" not in project.clusters()
    moto_server.configure(cluster_quota=used + 2)
    assert branch(project, "create", "feat", "--json", now=NOON1)["state"] == "connected"


def test_no_wait_returns_once_the_clone_is_requested_and_create_finishes_it(devdb_project):
    project = devdb_project()
    first = branch(project, "create", "feat", "--no-wait", "--json", now=NOON1)
    assert first["state"] == "created" and first["host"] == f"feat.{RECORD}"
    assert f"feat.{RECORD}" not in cnames(project)
    done = branch(project, "create", "feat", "--json", now=NOON1)
    assert done["state"] == "connected" and done["cluster"] == "dev-feat"


def test_bad_names_and_durations_are_usage_errors(devdb_project):
    project = devdb_project(migrate=False)
    for args in (["create", "Feat"], ["create", "9x"], ["create", "a" * 31], ["create", "ok", "--ttl", "3w"],
                 ["extend", "ok", "--ttl", "0h"]):
        result = branch(project, *args, check=False)
        assert result.returncode == 2, (args, result.stderr)


def test_extend_never_shortens_a_branch_and_ttl_has_a_ceiling(devdb_project):
    project = devdb_project()
    made = branch(project, "create", "feat", "--ttl", "3d", "--json", now=NOON1)
    assert made["expires_at"] == "2026-11-25T12:00:00Z"
    # 12h from now is earlier than the expiry: unchanged, said in one warning line.
    kept = branch(project, "extend", "feat", "--ttl", "12h", "--json", now=NOON1)
    assert kept["expires_at"] == "2026-11-25T12:00:00Z"
    assert tags_of(project.clusters()["dev-feat"])["devdb:expires-at"] == "2026-11-25T12:00:00Z"
    later = branch(project, "extend", "feat", "--ttl", "12h", now=NOON1, check=False)
    assert later.returncode == 0
    assert "branch feat already expires at 2026-11-25T12:00:00Z, later than 12h from now: expiry unchanged" in later.stderr
    # Two days on, 3d more from now moves it on.
    moved = branch(project, "extend", "feat", "--ttl", "3d", "--json", now=DAY3)
    assert moved["expires_at"] == "2026-11-27T05:00:00Z"
    # The ceiling: BRANCH_MAX_TTL (30d by default), for create and extend alike, before any AWS change.
    for args in (["extend", "feat", "--ttl", "400d"], ["create", "other", "--ttl", "31d"]):
        refused = branch(project, *args, now=DAY3, check=False)
        assert refused.returncode == 1, refused.stderr
        assert f"--ttl: {args[-1]} is longer than DEVDB_BRANCH_MAX_TTL (30d)" in refused.stderr.strip().splitlines()[-1]
    assert "dev-other" not in project.clusters()
    assert tags_of(project.clusters()["dev-feat"])["devdb:expires-at"] == "2026-11-27T05:00:00Z"
    allowed = branch(project, "extend", "feat", "--ttl", "40d", "--json", now=DAY3, BRANCH_MAX_TTL="60d")
    assert allowed["expires_at"] == "2027-01-03T05:00:00Z"


def test_django_options_are_accepted_after_the_action_word(devdb_project):
    project = devdb_project()
    branch(project, "create", "feat", "--json", now=NOON1)
    quiet = branch(project, "list", "-v", "0", "--settings", "project.settings", "--traceback", now=NOON1, check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("dev/feat: feat.db.dev.example.com:3307 connected")
    assert quiet.stderr == ""  # -v 0: no log lines
    # Before the action word as Django has it, too; --traceback after it shows a failure's traceback.
    assert branch(project, "-v", "0", "list", now=NOON1, check=False).returncode == 0
    failed = branch(project, "extend", "nope", "--ttl", "1d", "--traceback", now=NOON1, check=False)
    assert failed.returncode == 1 and "Traceback (most recent call last)" in failed.stderr


def test_status_devdb_lists_the_branches(devdb_project):
    project = devdb_project()
    project.refresh(DAY1)
    branch(project, "create", "feat", "--owner", "alice", "--json", now=NOON1)
    shown = project.manage("status_devdb", now=NOON1).stdout.splitlines()
    assert shown[0] == f"target dev: {RECORD} -> dev-20261122"
    assert shown[-1] == f"  branch feat: feat.{RECORD} -> dev-feat connected, expires 2026-11-25T12:00:00Z, owner alice"
    (report,) = json.loads(project.manage("status_devdb", "--json", now=NOON1).stdout)["targets"]
    assert [(b["branch"], b["cluster"], b["state"], b["cname"]) for b in report["branches"]] == [
        ("feat", "dev-feat", "connected", True)]
    assert [c["cluster"] for c in report["clones"]] == ["dev-20261122"]  # the daily line stays apart


def test_delete_missing_ok_is_a_line_and_exit_0_for_a_branch_already_gone(devdb_project):
    project = devdb_project()
    refused = branch(project, "delete", "gone", now=NOON1, check=False)
    assert refused.returncode == 1 and "target 'dev' has no branch gone" in refused.stderr
    fine = branch(project, "delete", "gone", "--missing-ok", now=NOON1, check=False)
    assert fine.returncode == 0, fine.stderr
    assert fine.stdout.strip() == "dev/gone: no such branch (expired or deleted already): nothing to delete"
    assert branch(project, "delete", "gone", "--missing-ok", "--json", now=NOON1)["state"] == "missing"
