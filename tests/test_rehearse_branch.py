"""`rehearse_devdb` on a branch, end to end: manage.py against moto's standalone server (tests/project.py) with
the test-only migrations app (tests.rehearsal_app.sandbox_settings).

The branch's clone is moto's; the database it "is" is a scratch database on the real MariaDB server
holding rehearsal_app's 0001 with rows, reached with the app's own login (DATABASE_URL: user, password,
name; its host the stable name, as an app's would be). Only the MySQL driver is redirected: the clone's
endpoint (*.rds.amazonaws.com) goes to the MariaDB server (TEST_CLONE_ADDRESS).
"""

import json

import pytest

from tests.project import RECORD, devdb_project, tags_of  # noqa: F401
from tests.test_branches import cnames
from tests.test_rehearsal import Scratch

NOON = "2026-11-22T12:00:00Z"


@pytest.fixture
def scratch(mariadb, django_db_blocker):
    with django_db_blocker.unblock():
        db = Scratch("mysql", mariadb)
        try:
            yield db
        finally:
            db.drop()


@pytest.fixture
def project(devdb_project, scratch, mariadb):
    project = devdb_project()
    project.base_env.update(
        DJANGO_SETTINGS_MODULE="tests.rehearsal_app.sandbox_settings",
        DATABASE_URL=f"mysql://{scratch.name}:{scratch.password}@{RECORD}:3306/{scratch.name}",
        TEST_CLONE_ADDRESS=f"{mariadb['host']}:{mariadb['port']}",
    )
    return project


def branches(project):
    return {cid: tags_of(c) for cid, c in project.clusters().items() if "devdb:branch" in tags_of(c)}


def test_a_passing_rehearsal_on_a_branch_reports_and_deletes_the_branch(project, scratch, django_db_blocker):
    with django_db_blocker.unblock():
        scratch.start(["a", "b", "c"])
    project.refresh(NOON)
    daily = project.record_value()

    result = project.manage("rehearse_devdb", "--json", now=NOON)

    report = json.loads(result.stdout)
    assert report["ok"] is True and report["error"] is None
    assert [m["migration"] for m in report["migrations"] if m["migration"].startswith("rehearsal_app.")] == [
        "rehearsal_app.0002_item_note", "rehearsal_app.0003_item_code_unique", "rehearsal_app.0004_item_size"]
    assert all(m["status"] == "applied" for m in report["migrations"])
    note = report["migrations"][[m["migration"] for m in report["migrations"]].index("rehearsal_app.0002_item_note")]
    assert note["tables"] == [{"table": "rehearsal_app_item", "rows": 3, "exact": True}] and note["sql"]
    # The rehearsal ran on the branch's clone (its endpoint and port), with the app's login, as the app's database.
    branch = report["branch"]
    assert branch["branch"] == "rehearse-20261122-120000" and branch["host"] == f"rehearse-20261122-120000.{RECORD}"
    assert report["database"] == f"mysql://{branch['endpoint']}:{branch['port']}/{scratch.name}"
    assert branch["endpoint"].startswith("dev-rehearse-20261122-120000.cluster-")
    assert branch["expires_at"] == "2026-11-22T14:00:00Z" and branch["state"] == "deleted"
    assert scratch.applied() >= {"rehearsal_app.0002_item_note", "rehearsal_app.0004_item_size"}
    assert scratch.password not in result.stdout + result.stderr
    # Deleted afterwards: no branch clone left running, no CNAME; the daily clone's name untouched.
    assert all(c["Status"] == "deleting" for c in project.clusters().values()
               if c["DBClusterIdentifier"].startswith("dev-rehearse")), project.clusters().keys()
    assert list(cnames(project)) == [RECORD] and project.record_value() == daily


def test_a_failing_rehearsal_exits_1_naming_the_migration_and_keep_keeps_the_branch(project, scratch,
                                                                                     django_db_blocker):
    with django_db_blocker.unblock():
        scratch.start(["same", "same"])
    project.refresh(NOON)

    result = project.manage("rehearse_devdb", "--keep", now=NOON, check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED   rehearsal_app.0003_item_code_unique" in result.stdout
    assert "not run  rehearsal_app.0004_item_size" in result.stdout
    assert "rehearse_devdb: error: migration rehearsal_app.0003_item_code_unique failed: " in result.stderr
    host = f"rehearse-20261122-120000.{RECORD}"
    assert f"branch rehearse-20261122-120000 kept: {host}:3307 (dev-rehearse-20261122-120000)" in result.stdout
    (tags,) = branches(project).values()
    assert tags["devdb:branch"] == "rehearse-20261122-120000" and tags["devdb:state"] == "connected"
    assert tags["devdb:expires-at"] == "2026-11-22T14:00:00Z"
    assert host in cnames(project)
    assert scratch.password not in result.stdout + result.stderr
