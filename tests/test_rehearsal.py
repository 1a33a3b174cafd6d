"""Migration rehearsal against the real MariaDB and PostgreSQL servers: devdb.rehearsal in process, and
`manage.py rehearse_devdb --url` as a subprocess (settings tests.rehearsal_app.settings).

Each test gets a database named rehearsal<suffix>_<random>, reached by a login with a password, holding
tests.rehearsal_app's 0001 (table rehearsal_app_item) with three rows; dropped afterwards. The rows'
`code` values are distinct (0003 passes) or the password twice (0003 fails, and its error would show it).
"""

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from devdb.aws import Cluster
from devdb.connections import connection_for, django_settings
from devdb.errors import ConfigError, MigrationFailed
from devdb.rehearsal import APPLIED, FAILED, NOT_RUN, migrate_clone, refusal, rehearse, source_endpoints
from tests.project import ROOT, manage
from tests.rehearsal_app.settings import INSTALLED_APPS

SUFFIX = os.environ.get("DEVDB_TEST_DB_SUFFIX", "")
LATER = ["rehearsal_app.0002_item_note", "rehearsal_app.0003_item_code_unique", "rehearsal_app.0004_item_size",
         "rehearsal_app.0005_item_note_via_manager", "rehearsal_app.0006_item_size_via_cursor"]
REHEARSED = ("via manager, signal", 7)  # what 0005, 0006 and the post_migrate receiver make of a row


@pytest.fixture(autouse=True)
def _rehearsal_settings(monkeypatch):
    """The migrate child process loads the project's settings module: the one with rehearsal_app."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.rehearsal_app.settings")
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker):
    with django_db_blocker.unblock():
        yield


class Scratch:
    """A database on one server, its own login with a password (or `owner`'s: another Scratch's), and 0001
    applied with three rows."""

    def __init__(self, vendor, server, owner=None):
        self.vendor, self.server, self.owner = vendor, server, owner
        self.name = f"rehearsal{SUFFIX}_{uuid.uuid4().hex[:8]}".lower()
        self.user = owner.user if owner else self.name
        self.password = owner.password if owner else "Pw-" + uuid.uuid4().hex[:12]
        if owner is None:
            self.admin(f"CREATE USER {self.login} IDENTIFIED BY '{self.password}'" if vendor == "mysql" else
                       f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
        self.admin(f"CREATE DATABASE {self.name}" if vendor == "mysql" else f"CREATE DATABASE {self.name} OWNER {self.user}",
                   *([f"GRANT ALL ON {self.name}.* TO {self.login}"] if vendor == "mysql" else []))
        # The branch code passes a clone's Aurora engine; a --url names its scheme.
        kind = {"vendor": "mysql"} if vendor == "mysql" else {"engine": "aurora-postgresql"}
        self.params = {**kind, "host": server["host"], "port": server["port"], "user": self.user,
                       "password": self.password, "database": self.name}
        scheme = "mysql" if vendor == "mysql" else "postgres"
        self.url = f"{scheme}://{self.user}:{self.password}@{server['host']}:{server['port']}/{self.name}"

    @property
    def login(self):
        return f"'{self.user}'@'%'"

    def admin(self, *statements):
        if self.vendor == "mysql":
            import MySQLdb

            conn = MySQLdb.connect(host=self.server["host"], port=self.server["port"], user=self.server["user"],
                                   passwd=self.server["password"])
        else:
            import psycopg

            conn = psycopg.connect(host=self.server["host"], port=self.server["port"], user=self.server["user"],
                                   password=self.server["password"], dbname=self.server["database"], autocommit=True)
        try:
            for statement in statements:
                conn.cursor().execute(statement)
        finally:
            conn.close()

    def start(self, codes):
        with override_settings(INSTALLED_APPS=INSTALLED_APPS), connection_for(self.params) as alias:
            call_command("migrate", "rehearsal_app", "0001", database=alias, verbosity=0)
            with connections[alias].cursor() as cursor:
                for code in codes:
                    cursor.execute("INSERT INTO rehearsal_app_item (code) VALUES (%s)", [code])

    def query(self, sql):
        with connection_for(self.params) as alias, connections[alias].cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def applied(self):
        return {f"{app}.{name}" for app, name in self.query("SELECT app, name FROM django_migrations")}

    def dump(self):
        """Every row of every table (django_migrations with its timestamps included), for a byte-for-byte
        comparison."""
        tables = sorted(row[0] for row in self.query(
            "SHOW TABLES" if self.vendor == "mysql" else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        quote = "`{}`" if self.vendor == "mysql" else '"{}"'
        return {table: sorted(map(repr, self.query(f"SELECT * FROM {quote.format(table)}"))) for table in tables}

    def drop(self):
        """Drop the database, and the login unless it is the owner's (drop the owner last)."""
        if self.vendor == "mysql":
            self.admin(f"DROP DATABASE IF EXISTS {self.name}", *([] if self.owner else [f"DROP USER IF EXISTS {self.login}"]))
        else:
            self.admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)",
                       *([] if self.owner else [f"DROP ROLE IF EXISTS {self.user}"]))


@pytest.fixture(params=["mysql", "postgresql"])
def scratch(request):
    server = request.getfixturevalue("mariadb" if request.param == "mysql" else "postgresql")
    db = Scratch(request.param, server)
    try:
        yield db
    finally:
        db.drop()


def by_label(report):
    return {run.label: run for run in report.migrations}


def test_a_passing_rehearsal_applies_each_migration_and_reports_time_sql_and_rows(scratch, settings):
    scratch.start(["a", "b", "c"])
    databases = dict(settings.DATABASES)
    with override_settings(INSTALLED_APPS=INSTALLED_APPS):
        report = rehearse(scratch.params)

    assert report.ok and report.error is None and report.failed is None
    runs = by_label(report)
    assert "rehearsal_app.0001_initial" not in runs  # applied before: not this code's to apply
    assert [label for label in runs if label.startswith("rehearsal_app.")] == LATER
    assert {run.status for run in report.migrations} == {APPLIED}
    note = runs["rehearsal_app.0002_item_note"]
    assert isinstance(note.seconds, float) and 0 <= note.seconds <= report.seconds
    assert any("ALTER TABLE" in s and "note" in s for s in note.sql), note.sql
    assert note.tables == [{"table": "rehearsal_app_item", "rows": 3, "exact": True}]
    assert any("UNIQUE" in s.upper() for s in runs["rehearsal_app.0003_item_code_unique"].sql)
    assert runs["contenttypes.0001_initial"].tables == []  # a table being created has no rows to count
    assert runs["devdb.0002_clonerecord_masking"].tables == []  # the router keeps devdb's tables elsewhere
    assert set(LATER) <= scratch.applied()
    assert scratch.query("SELECT note, size FROM rehearsal_app_item ORDER BY id") == [REHEARSED] * 3

    assert dict(settings.DATABASES) == databases  # the temporary alias is gone
    assert not [alias for alias in connections.settings if alias.startswith("devdb_")]
    text = report.render()
    assert "applied  rehearsal_app.0002_item_note in" in text and "rows: rehearsal_app_item: 3" in text
    assert text.endswith("OK: every migration applied")
    assert json.loads(json.dumps(report.as_dict()))["ok"] is True

    with override_settings(INSTALLED_APPS=INSTALLED_APPS):
        again = migrate_clone(scratch.params)
    assert again.ok and again.migrations == [] and again.outcome == "nothing to apply"
    assert again.render().splitlines()[0].endswith(("nothing to apply in " + str(again.seconds) + "s"))
    assert again.render().splitlines()[-1] == "OK: nothing to apply" and "FAIL" not in again.render()


def test_a_table_above_the_count_limit_is_estimated_from_the_catalog_not_counted(scratch, monkeypatch):
    scratch.start(["a", "b", "c"])
    scratch.query("ANALYZE TABLE rehearsal_app_item" if scratch.vendor == "mysql" else "ANALYZE rehearsal_app_item")
    monkeypatch.setattr("devdb.rehearsal.COUNT_LIMIT_BYTES", 0)
    with override_settings(INSTALLED_APPS=INSTALLED_APPS):
        report = rehearse(scratch.params)
    note = by_label(report)["rehearsal_app.0002_item_note"]
    assert note.tables == [{"table": "rehearsal_app_item", "rows": 3, "exact": False}]
    assert "rows: rehearsal_app_item: 3 (estimate)" in report.render()


def test_a_failing_migration_stops_the_run_named_with_its_error_and_no_password(scratch):
    scratch.start([scratch.password, scratch.password, "c"])  # 0003's unique index meets a duplicate
    with override_settings(INSTALLED_APPS=INSTALLED_APPS):
        report = rehearse(scratch.params)

    assert not report.ok
    runs = by_label(report)
    failed = runs["rehearsal_app.0003_item_code_unique"]
    assert report.failed is failed and failed.status == FAILED and isinstance(failed.seconds, float)
    code = "1062" if scratch.vendor == "mysql" else "23505"  # duplicate key
    assert f"({code})" in failed.error and "***" in failed.error and scratch.password not in failed.error
    assert report.error == f"migration rehearsal_app.0003_item_code_unique failed: {failed.error}"
    assert failed.tables == [{"table": "rehearsal_app_item", "rows": 3, "exact": True}] and failed.sql
    assert runs["rehearsal_app.0002_item_note"].status == APPLIED
    later = runs["rehearsal_app.0004_item_size"]
    assert (later.status, later.seconds, later.sql, later.error) == (NOT_RUN, None, [], None)
    applied = scratch.applied()
    assert "rehearsal_app.0002_item_note" in applied and not {LATER[1], LATER[2]} & applied
    assert scratch.password not in report.render() + json.dumps(report.as_dict())
    assert "FAILED   rehearsal_app.0003_item_code_unique" in report.render()

    with override_settings(INSTALLED_APPS=INSTALLED_APPS), pytest.raises(MigrationFailed) as raised:
        migrate_clone(scratch.params)
    assert str(raised.value).startswith("migration rehearsal_app.0003_item_code_unique failed: ")
    assert scratch.password not in str(raised.value) and raised.value.report.failed.name == "0003_item_code_unique"


def test_an_unreachable_database_is_reported_before_any_migration(mariadb):
    url = f"mysql://nobody:Sekret-rehearsal@{mariadb['host']}:1/rehearsal_none"
    with override_settings(INSTALLED_APPS=INSTALLED_APPS):
        report = rehearse(url)
    assert report.error.startswith("migrate failed before any migration ran: unreachable")
    assert report.migrations == [] and "Sekret-rehearsal" not in report.render()


def test_rehearse_devdb_checks_its_url():
    with pytest.raises(CommandError, match="--target and --keep are for a branch"):
        call_command("rehearse_devdb", "--url", "mysql://u@h/db", "--keep")
    with pytest.raises(CommandError, match="not a valid database URL"):
        call_command("rehearse_devdb", "--url", "nosuch://host/db")


def rehearse_devdb(*args, **env):
    """manage.py rehearse_devdb with tests.rehearsal_app.settings; `env` adds variables (DATABASE_URL: the
    project's default database)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEVDB_", "DJANGO_", "DATABASE_URL"))}
    base.update(DJANGO_SETTINGS_MODULE="tests.rehearsal_app.settings", PYTHONPATH=str(ROOT),
                DEVDB_TEST_DB_SUFFIX=SUFFIX, **env)
    return manage("rehearse_devdb", *args, env=base, timeout=300)


@pytest.fixture
def default_db(scratch):
    """The project's default database in the subprocess: another database on the same server, in the same
    state as the copy (0001 with rows), as production's would be."""
    db = Scratch(scratch.vendor, scratch.server)
    try:
        yield db
    finally:
        db.drop()


def test_data_migrations_change_the_copy_and_leave_the_default_database_byte_identical(scratch, default_db):
    scratch.start(["a", "b", "c"])
    default_db.start(["a", "b", "c"])
    before = default_db.dump()

    result = rehearse_devdb("--url", scratch.url, "--json", DATABASE_URL=default_db.url)

    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["outcome"] == "applied"
    statuses = {m["migration"]: m["status"] for m in data["migrations"]}
    assert statuses["rehearsal_app.0005_item_note_via_manager"] == statuses["rehearsal_app.0006_item_size_via_cursor"] == "applied"
    # The default manager, the raw cursor on django.db.connection and the post_migrate receiver all wrote the copy ...
    assert scratch.query("SELECT code, note, size FROM rehearsal_app_item ORDER BY code") == [
        (code, *REHEARSED) for code in "abc"]
    assert set(LATER) <= scratch.applied()
    # ... and nothing else: the project's default database is as it was, rows and django_migrations.
    assert default_db.dump() == before
    output = result.stdout + result.stderr
    assert scratch.password not in output and default_db.password not in output

    again = rehearse_devdb("--url", scratch.url, DATABASE_URL=default_db.url)  # nothing left to apply: no failure
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.strip().splitlines()[-1] == "OK: nothing to apply" and "FAIL" not in again.stdout
    assert "nothing to apply in " in again.stdout.splitlines()[0]
    assert default_db.dump() == before


def test_rehearse_devdb_refuses_the_projects_own_default_database(scratch):
    scratch.start(["a", "b"])
    before = scratch.dump()
    shouted = scratch.url.replace(f"@{scratch.server['host']}:", "@LocalHost:")  # another spelling, same server
    result = rehearse_devdb("--url", shouted, DATABASE_URL=scratch.url)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("rehearse_devdb: error: refusing to migrate ") and scratch.name in line
    assert line.endswith("it is this process's own default database (DATABASES['default']); "
                         "a rehearsal migrates a copy only")
    assert scratch.password not in result.stdout + result.stderr
    assert scratch.dump() == before


def test_rehearse_devdb_refuses_the_control_database(mariadb):
    db = Scratch("mysql", mariadb)
    try:
        db.start(["a"])
        before = db.dump()
        result = rehearse_devdb("--url", db.url, DEVDB_TEST_CONTROL_DB="mysql", DEVDB_TEST_MYSQL_URL=db.url)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "it is the control database (DEVDB['DATABASE'] = 'devdb')" in result.stderr
        assert db.password not in result.stdout + result.stderr and db.dump() == before
    finally:
        db.drop()


def test_rehearse_devdb_refuses_an_endpoint_of_a_configured_source_cluster():
    # tests.settings' target `dev` has SOURCE_CLUSTER prod-aurora; nothing is connected to.
    url = "mysql://app:Sekret-source@Prod-Aurora.cluster-ro-c0ffee.eu-west-1.rds.amazonaws.com:3306/shop"
    result = rehearse_devdb("--url", url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "rehearse_devdb: error: refusing to migrate mysql://prod-aurora.cluster-ro-c0ffee.eu-west-1.rds.amazonaws.com"
        ":3306/shop: it is an endpoint of the source cluster prod-aurora (SOURCE_CLUSTER of target 'dev'); "
        "a rehearsal migrates a copy only")


def test_a_branch_or_clone_is_refused_on_the_source_clusters_own_endpoints():
    source = Cluster(id="shared-prod", arn="arn:aws:rds:eu-west-1:1:cluster:shared-prod", status="available",
                     endpoint="db.internal.example.com", port=3306, engine="aurora-mysql", engine_version="8.0",
                     reader_endpoint="ro.internal.example.com")
    sources = source_endpoints(source)
    config = django_settings({"engine": "aurora-mysql", "host": "RO.Internal.Example.com.", "port": 3306, "user": "u",
                              "password": "p", "database": "shop"})
    assert refusal(config, sources) == "the source cluster shared-prod's reader endpoint"
    assert refusal({**config, "HOST": "db.internal.example.com"}, sources) == "the source cluster shared-prod's writer endpoint"
    assert refusal({**config, "HOST": "clone.internal.example.com"}, sources) is None
    with pytest.raises(ConfigError, match="refusing to migrate .*: it is the source cluster shared-prod's writer endpoint"):
        rehearse({"engine": "aurora-mysql", "host": "db.internal.example.com", "port": 3306, "user": "u",
                  "password": "p", "database": "shop"}, sources=sources)


def test_in_the_migrate_process_default_is_the_copy_and_every_other_alias_refuses_to_connect(scratch, tmp_path):
    """The child's settings (devdb.rehearsal_settings): django.db.connection is the copy; `devdb` fails in one line."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"database": django_settings(scratch.params)}))
    code = ("import django; django.setup()\n"
            "from django.db import connection, connections\n"
            "with connection.cursor() as c:\n"
            "    c.execute('SELECT DATABASE()' if connection.vendor == 'mysql' else 'SELECT current_database()')\n"
            "    print('default is', c.fetchone()[0])\n"
            "try:\n"
            "    connections['devdb'].cursor()\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVDB_", "DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="devdb.rehearsal_settings", DEVDB_REHEARSAL_SETTINGS="tests.rehearsal_app.settings",
               DEVDB_REHEARSAL_SPEC=str(spec), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"default is {scratch.name}",
        "ImproperlyConfigured DATABASES['devdb'] is out of reach while migrations run on a copy: "
        "only 'default' (the copy) may be used"]


def test_rehearse_devdb_json_parses_and_exits_0_when_every_migration_applies(scratch):
    scratch.start(["a", "b"])
    result = rehearse_devdb("--url", scratch.url, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["error"] is None and scratch.name in data["database"]
    note = next(m for m in data["migrations"] if m["migration"] == "rehearsal_app.0002_item_note")
    assert note["status"] == "applied" and note["seconds"] >= 0 and note["sql"]
    assert note["tables"] == [{"table": "rehearsal_app_item", "rows": 2, "exact": True}]
    assert scratch.password not in result.stdout + result.stderr


def test_rehearse_devdb_exits_1_naming_the_failing_migration(scratch):
    scratch.start([scratch.password, scratch.password])
    result = rehearse_devdb("--url", scratch.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED   rehearsal_app.0003_item_code_unique" in result.stdout
    assert "not run  rehearsal_app.0004_item_size" in result.stdout
    assert "rehearse_devdb: error: migration rehearsal_app.0003_item_code_unique failed: " in result.stderr
    assert scratch.password not in result.stdout + result.stderr

    as_json = rehearse_devdb("--url", scratch.url, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"].startswith("migration rehearsal_app.0003_item_code_unique failed")
