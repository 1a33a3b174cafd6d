"""Post-clone steps: POST_CLONE_SQL against the real MariaDB server, and MASTER_PASSWORD_ENV.

The clone's endpoint is a fake AWS host name (moto); the only fake is devdb.probes.connect sending
it to the MariaDB server. Commands run on the test's fake clock (devdb.engine.Clock is replaced).
"""

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb import conf, probes
from devdb.errors import ConfigError
from devdb.models import CloneEvent, CloneRecord
from tests.aws_calls import recorded_gateway
from tests.project import manage

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MASK = str(FIXTURES / "mask.sql")
MASK_FAILS = str(FIXTURES / "mask_fails.sql")
APP_PASSWORD = "app-Pw-" + uuid.uuid4().hex[:10]
USERS = [(1, "alice@corp.example", "Alice Smith", "pbkdf2$alice"), (2, "bob@corp.example", "Bob Jones", "pbkdf2$bob")]

# A bare source (port 3306, no IAM role): these tests pin call sequences and SQL against the MariaDB
# server here; the production-like source is exercised by test_parity, test_e2e and the realistic tests.
pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]


@pytest.fixture
def app_db(mariadb, monkeypatch, settings):
    """A database with a users table and an app user (with a password) as DATABASES['default']."""
    import MySQLdb

    suffix = uuid.uuid4().hex[:10]
    user = database = f"devdb_mask_{suffix}"
    root = MySQLdb.connect(host=mariadb["host"], port=mariadb["port"], user=mariadb["user"], passwd=mariadb["password"])
    root.autocommit(True)
    cursor = root.cursor()
    hosts = ("%", "localhost", "127.0.0.1")

    def rows():
        cursor.execute(f"SELECT id, email, name, password FROM `{database}`.users ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]

    try:
        cursor.execute(f"CREATE DATABASE `{database}`")
        for host in hosts:
            cursor.execute(f"CREATE USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (APP_PASSWORD,))
            cursor.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")
        cursor.execute(f"CREATE TABLE `{database}`.users (id INT PRIMARY KEY, email VARCHAR(200), name VARCHAR(200),"
                       " password VARCHAR(200)) ENGINE=InnoDB")
        cursor.executemany(f"INSERT INTO `{database}`.users VALUES (%s, %s, %s, %s)", USERS)
        default = settings.DATABASES["default"]
        for key, value in (("USER", user), ("PASSWORD", APP_PASSWORD), ("NAME", database), ("PORT", str(mariadb["port"]))):
            monkeypatch.setitem(default, key, value)
        yield {"host": mariadb["host"], "rows": rows}
    finally:
        for host in hosts:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        root.close()


@pytest.fixture
def redirect(monkeypatch, app_db):
    """Send the clone's endpoint to the MariaDB server; return the hosts asked for."""
    real_connect = probes.connect
    hosts = []

    def connect(host, **kwargs):
        hosts.append(host)
        return real_connect(app_db["host"], **kwargs)

    monkeypatch.setattr(probes, "connect", connect)
    return hosts


@pytest.fixture
def commands_on_fake_clock(monkeypatch, clock):
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)


# --- POST_CLONE_SQL ----------------------------------------------------------------------------


@pytest.mark.mysql
def test_masking_script_runs_before_the_name_moves(aws, devdb_settings, app_db, redirect, make_engine):
    devdb_settings["TARGETS"]["dev"]["POST_CLONE_SQL"] = [MASK]
    make_engine().refresh()

    endpoint = aws.cluster("dev-20261122")["Endpoint"]
    assert redirect == [endpoint]  # one connection, to the clone's writer endpoint
    assert app_db["rows"]() == [(1, "user1@example.invalid", "User 1", "!"), (2, "user2@example.invalid", "User 2", "!")]
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert aws.record() == endpoint
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    events = list(record.events.values_list("to_state", "message"))
    ran = events.index(("created", f"ran {MASK}"))
    assert ran < [state for state, _ in events].index("ready") < [state for state, _ in events].index("connected")


@pytest.mark.mysql
def test_failing_script_leaves_the_name_where_it_was(
    aws, devdb_settings, app_db, redirect, make_engine, clock, commands_on_fake_clock, capsys, caplog
):
    make_engine().refresh()  # day 1, no script: connected
    day1 = aws.cluster("dev-20261122")["Endpoint"]
    assert aws.record() == day1
    original = app_db["rows"]()

    devdb_settings["TARGETS"]["dev"]["POST_CLONE_SQL"] = [MASK, MASK_FAILS]
    clock.advance(days=1)
    caplog.set_level(logging.INFO, logger="devdb")
    with pytest.raises(CommandError) as info:
        call_command("refresh_devdb")

    assert info.value.returncode == 1
    assert "mask_fails.sql: statement 2 failed" in str(info.value)
    assert "\n" not in str(info.value)
    assert aws.record() == day1  # DNS stays where it was
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    # mask.sql committed before mask_fails.sql started; the failing script's first UPDATE was rolled back
    # with it: emails were masked once by mask.sql, names and passwords too.
    assert [r[1] for r in app_db["rows"]()] == ["user1@example.invalid", "user2@example.invalid"]
    assert original != app_db["rows"]()
    record = CloneRecord.objects.get(cluster_id="dev-20261123")
    assert "mask_fails.sql: statement 2 failed" in record.last_error
    assert "no_such_table" in record.last_error
    aborted = record.events.get(to_state="aborted")
    assert aborted.from_state == "created" and "statement 2 failed" in aborted.message
    assert not record.events.filter(to_state__in=["ready", "connected"]).exists()
    out, err = capsys.readouterr()
    for text in (str(info.value), record.last_error, out, err, caplog.text):
        assert APP_PASSWORD not in text


@pytest.mark.mysql
def test_failing_script_is_all_or_nothing(aws, devdb_settings, app_db, redirect, make_engine):
    devdb_settings["TARGETS"]["dev"]["POST_CLONE_SQL"] = [MASK_FAILS]
    before = app_db["rows"]()
    with pytest.raises(Exception, match="statement 2 failed"):
        make_engine().refresh()
    assert app_db["rows"]() == before  # the first UPDATE did not stay applied
    assert aws.record() is None
    assert CloneRecord.objects.get(cluster_id="dev-20261122").events.filter(to_state="aborted").exists()


def test_post_clone_sql_from_the_environment_is_a_comma_separated_list():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": "sqlite:////tmp/devdb-h4-app.sqlite3",
        "DEVDB_DATABASE_URL": "sqlite:////tmp/devdb-h4-control.sqlite3",
        "DEVDB_SOURCE_CLUSTER": "prod-aurora",
        "DEVDB_HOSTED_ZONE_ID": "Z0123456789ABC",
        "DEVDB_RECORD_NAME": "db.dev.example.com",
        "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
        "DEVDB_POST_CLONE_SQL": f"{MASK}, {MASK_FAILS}",
        "DEVDB_MASTER_PASSWORD_ENV": "DEVDB_H4_NEW_PASSWORD",
    }
    code = ("import django, json; django.setup(); from devdb import conf; t = conf.get_settings().targets['dev'];"
            " print(json.dumps([list(t.post_clone_sql), t.master_password_env]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[MASK, MASK_FAILS], "DEVDB_H4_NEW_PASSWORD"]

    env["DEVDB_POST_CLONE_SQL"] = f"{MASK},{FIXTURES / 'missing.sql'}"
    result = manage("clone_devdb", env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"clone_devdb: error: DEVDB_POST_CLONE_SQL holds '{FIXTURES / 'missing.sql'}', "
        "which is not a readable .sql file"
    ]


def test_post_clone_sql_must_be_readable_sql_files(devdb_settings):
    devdb_settings["TARGETS"]["dev"]["POST_CLONE_SQL"] = [str(FIXTURES / "missing.sql")]
    with pytest.raises(ConfigError, match="POST_CLONE_SQL"):
        conf.get_settings()
    devdb_settings["TARGETS"]["dev"]["POST_CLONE_SQL"] = f"{MASK},{MASK_FAILS}"  # a string is split on commas too
    assert conf.get_settings().targets["dev"].post_clone_sql == (MASK, MASK_FAILS)


# --- MASTER_PASSWORD_ENV -----------------------------------------------------------------------

NEW_PASSWORD = "clone-Pw-" + uuid.uuid4().hex[:10]


def test_new_master_password_is_set_on_the_clone_after_readiness(
    aws, devdb_settings, make_engine, monkeypatch, caplog, capsys
):
    monkeypatch.setenv("DEVDB_TEST_CLONE_PASSWORD", NEW_PASSWORD)
    devdb_settings["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_CLONE_PASSWORD"
    caplog.set_level(logging.DEBUG, logger="devdb")
    gateway, calls = recorded_gateway()
    make_engine(gateway=gateway).refresh()

    modify = [(i, params) for i, (name, params) in enumerate(calls) if name == "ModifyDBCluster"]
    assert len(modify) == 1
    index, params = modify[0]
    assert params == {"DBClusterIdentifier": "dev-20261122", "MasterUserPassword": NEW_PASSWORD, "ApplyImmediately": True}
    changes = [(name, p) for name, p in calls if not name.startswith(("Describe", "List", "Get"))]
    assert not [c for c in changes if c[1].get("DBClusterIdentifier") == "prod-aurora"
                or c[1].get("ResourceName", "").endswith(":prod-aurora")]  # the source is only read and cloned
    names = [name for name, _ in calls]
    writer_created = names.index("CreateDBInstance")
    assert writer_created < names.index("DescribeDBInstances", writer_created) < index  # after the writer is available
    assert index < names.index("ChangeResourceRecordSets")  # before the name moves
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"

    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert record.events.filter(message="master password replaced").exists()
    out, err = capsys.readouterr()
    texts = [caplog.text, out, err, *[json.dumps(v, default=str) for v in CloneRecord.objects.values()],
             *CloneEvent.objects.values_list("message", flat=True)]
    assert "DEVDB_TEST_CLONE_PASSWORD" in caplog.text  # the log names the variable ...
    assert not [t for t in texts if NEW_PASSWORD in t]  # ... never its value


def test_missing_password_variable_is_one_line_before_any_change(aws, devdb_settings, monkeypatch, clock,
                                                                 commands_on_fake_clock):
    monkeypatch.delenv("DEVDB_TEST_CLONE_PASSWORD", raising=False)
    devdb_settings["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_CLONE_PASSWORD"
    for command in ("refresh_devdb", "clone_devdb"):
        with pytest.raises(CommandError) as info:
            call_command(command)
        assert info.value.returncode == 1
        assert str(info.value) == "dev: MASTER_PASSWORD_ENV: environment variable DEVDB_TEST_CLONE_PASSWORD is not set"
    assert aws.cluster_ids() == ["prod-aurora"]
    assert aws.record() is None
    assert not CloneRecord.objects.exists()
