"""`rehearse_devdb` on a branch, end to end: manage.py against moto's standalone server (tests/project.py) with
the test-only migrations app (tests.rehearsal_app.sandbox_settings).

The branch's clone is moto's; the database it "is" is a scratch database on the real MariaDB server
holding rehearsal_app's 0001 with rows, reached with the app's own login (DATABASE_URL: user, password,
name; its host the stable name, as an app's would be). Only the MySQL driver is redirected: the clone's
endpoint (*.rds.amazonaws.com) goes to the MariaDB server (TEST_CLONE_ADDRESS).
"""

import io
import json

import pytest

from tests.project import RECORD, devdb_project, tags_of  # noqa: F401
from tests.test_branches import cnames
from tests.test_rehearsal import LATER, REHEARSED, Scratch

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
    assert [m["migration"] for m in report["migrations"] if m["migration"].startswith("rehearsal_app.")] == LATER
    assert all(m["status"] == "applied" for m in report["migrations"])
    note = report["migrations"][[m["migration"] for m in report["migrations"]].index("rehearsal_app.0002_item_note")]
    assert note["tables"] == [{"table": "rehearsal_app_item", "rows": 3, "exact": True}] and note["sql"]
    # The rehearsal ran on the branch's clone (its endpoint and port), with the app's login, as the app's database.
    branch = report["branch"]
    assert branch["branch"] == "rehearse-20261122-120000" and branch["host"] == f"rehearse-20261122-120000.{RECORD}"
    assert report["database"] == f"mysql://{branch['endpoint']}:{branch['port']}/{scratch.name}"
    assert branch["endpoint"].startswith("dev-rehearse-20261122-120000.cluster-")
    assert branch["expires_at"].startswith("2026-11-22T14:00:0") and branch["state"] == "deleted"
    assert branch["fate"] == "deleted" and report["outcome"] == "applied"
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
    assert "deleted" not in result.stdout
    (tags,) = branches(project).values()
    assert tags["devdb:branch"] == "rehearse-20261122-120000" and tags["devdb:state"] == "connected"
    assert tags["devdb:expires-at"].startswith("2026-11-22T14:00:0")  # 2h after create (a loaded machine: a second late)
    assert host in cnames(project)
    assert scratch.password not in result.stdout + result.stderr


def test_the_branch_s_fate_is_printed_when_it_is_deleted(project, scratch, django_db_blocker):
    with django_db_blocker.unblock():
        scratch.start(["a"])
    project.refresh(NOON)
    result = project.manage("rehearse_devdb", now=NOON)
    assert result.stdout.strip().splitlines()[-2:] == ["OK: every migration applied",
                                                       "branch rehearse-20261122-120000 deleted"]


# --- the project's default database is a real one, holding data: only the copy changes -----------------

@pytest.fixture(params=["mysql", "postgresql"])
def copies(request, devdb_project, django_db_blocker):
    """A project whose DATABASE_URL is a real database holding rehearsal_app's 0001 with rows, on the MariaDB
    or PostgreSQL server; the clones (branch or daily) are sent to another database there, the copy, in
    the same state, reached with the same login (app_credentials: the default's user, password and name)."""
    vendor = request.param
    server = request.getfixturevalue("mariadb" if vendor == "mysql" else "postgresql")
    with django_db_blocker.unblock():
        copy = Scratch(vendor, server)
        default = Scratch(vendor, server, owner=copy)
        try:
            copy.start(["a", "b", "c"])
            default.start(["a", "b", "c"])
            project = devdb_project(engine="aurora-mysql" if vendor == "mysql" else "aurora-postgresql")
            project.base_env.update(
                DJANGO_SETTINGS_MODULE="tests.rehearsal_app.sandbox_settings", DATABASE_URL=default.url,
                TEST_CLONE_ADDRESS=f"{server['host']}:{server['port']}", TEST_CLONE_DATABASE=copy.name)
            yield project, copy, default
        finally:
            default.drop()
            copy.drop()


def assert_only_the_copy_changed(copy, default, before, result, django_db_blocker):
    """The copy holds the rehearsed rows and migrations; the default database is byte-identical to `before`;
    the copy's password was never printed."""
    with django_db_blocker.unblock():
        assert copy.query("SELECT code, note, size FROM rehearsal_app_item ORDER BY code") == [
            (code, *REHEARSED) for code in "abc"]
        assert set(LATER) <= copy.applied()
        assert default.dump() == before
    assert copy.password not in result.stdout + result.stderr


def test_a_branch_rehearsal_changes_the_branch_and_leaves_the_default_database_byte_identical(copies,
                                                                                              django_db_blocker):
    project, copy, default = copies
    project.refresh(NOON)
    with django_db_blocker.unblock():
        before = default.dump()

    result = project.manage("rehearse_devdb", "--json", now=NOON)

    report = json.loads(result.stdout)
    assert report["ok"] is True and report["branch"]["fate"] == "deleted"
    assert_only_the_copy_changed(copy, default, before, result, django_db_blocker)


def test_migrate_before_connect_changes_the_clone_and_leaves_the_default_database_byte_identical(copies,
                                                                                                django_db_blocker):
    project, copy, default = copies
    with django_db_blocker.unblock():
        before = default.dump()

    result = project.refresh(NOON, MIGRATE_BEFORE_CONNECT="true")

    clone = project.record_value().split(".")[0]
    assert clone.startswith("dev-") and "migrated: " in " ".join(
        e["message"] for e in project.query("SELECT e.message FROM devdb_cloneevent e JOIN devdb_clonerecord r "
                                            f"ON e.record_id = r.id WHERE r.cluster_id = '{clone}'"))
    assert_only_the_copy_changed(copy, default, before, result, django_db_blocker)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.seed(production=False)
def test_a_branch_that_could_not_be_deleted_is_reported_so_not_as_deleted(aws, devdb_settings, clock, monkeypatch):
    """AWS refuses to delete the branch's writer (AccessDenied on DeleteDBInstance): the fate line says the
    branch is still there and when clean_devdb removes it. (A clone stopped meanwhile is no longer such a
    case: clean starts and deletes it in the same run, issue 18.8.)"""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from devdb.aws import Gateway
    from devdb.errors import AwsError
    from devdb.management.commands import rehearse_devdb as command

    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    real = command.rehearse

    def refused_meanwhile(database, **kwargs):
        def refuse(self, instance_id):
            raise AwsError(f"AWS DeleteDBInstance failed: AccessDenied: not allowed to delete {instance_id}")

        monkeypatch.setattr(Gateway, "delete_instance", refuse)
        return real(database, **kwargs)  # moto's endpoint resolves nowhere: the rehearsal fails, reported

    monkeypatch.setattr(command, "rehearse", refused_meanwhile)
    out = io.StringIO()
    with pytest.raises(CommandError, match="migrate failed before any migration ran"):
        call_command("rehearse_devdb", stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    (clone,) = [c for c in aws.cluster_ids() if c.startswith("dev-rehearse-")]
    assert last.startswith("branch rehearse-") and f" not deleted: AWS DeleteDBInstance failed: AccessDenied: not " \
        f"allowed to delete {clone}-1; clean_devdb removes it after it expires (" in last, last
    assert "deleted" not in out.getvalue().replace("not deleted", "")
    assert aws.cluster(clone)["Status"] != "deleting"
