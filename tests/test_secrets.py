"""Secrets (database passwords, the new master password) never reach output, logs or the clone history."""

import io
import json
import logging
import os
from pathlib import Path

import environ
import pytest
from django.core.management import call_command

from devdb import conf
from devdb.errors import ConfigError
from devdb.models import CloneEvent, CloneRecord
from devdb_sandbox.moto_server import seed
from tests.project import manage

ROOT = Path(__file__).resolve().parent.parent
APP_PASSWORD = "AppPw-7f3a9c1e"
CONTROL_PASSWORD = "CtlPw-2b8d4e6f"
MASTER_PASSWORD = "MasterPw-9e1c5a3b"
SECRETS = (APP_PASSWORD, CONTROL_PASSWORD, MASTER_PASSWORD)


def assert_no_secret(text, what):
    for secret in SECRETS:
        assert secret not in text, f"{what} holds a password"


def history_text(rows):
    return "\n".join(repr(row) for row in rows)


@pytest.mark.django_db(databases="__all__")
def test_master_password_reaches_aws_but_not_logs_output_or_records(aws, devdb_settings, monkeypatch, clock, caplog):
    monkeypatch.setenv("DEVDB_TEST_MASTER_PW", MASTER_PASSWORD)
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    devdb_settings["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_MASTER_PW"
    sent = []
    real_gateway = __import__("devdb.aws", fromlist=["Gateway"]).Gateway

    def gateway(*args, **kwargs):
        gw = real_gateway(*args, **kwargs)
        gw.rds.meta.events.register("before-parameter-build.rds.ModifyDBCluster", lambda params, **_: sent.append(params))
        return gw

    monkeypatch.setattr("devdb.runner.Gateway", gateway)
    out, err = io.StringIO(), io.StringIO()
    with caplog.at_level(logging.DEBUG, logger="devdb"):
        call_command("refresh_devdb", "--json", "--verbosity", "3", stdout=out, stderr=err)
    devdb_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("devdb"))
    assert [p["MasterUserPassword"] for p in sent] == [MASTER_PASSWORD]  # it was used...
    assert "set a new master password on dev-20261122 (from $DEVDB_TEST_MASTER_PW)" in devdb_log
    assert_no_secret(out.getvalue() + err.getvalue(), "command output")  # ...and never shown
    assert_no_secret(devdb_log, "the devdb log")
    assert_no_secret(history_text(CloneRecord.objects.values()), "CloneRecord")
    assert_no_secret(history_text(CloneEvent.objects.values()), "CloneEvent")
    assert CloneEvent.objects.filter(message="master password replaced").exists()
    assert_no_secret(json.dumps(json.loads(out.getvalue())), "--json output")


@pytest.mark.parametrize("var", ["DATABASE_URL", "DEVDB_DATABASE_URL"])
@pytest.mark.parametrize("url", [
    f"mysql://app:{APP_PASSWORD}@db.dev.example.com:33o6/app",
    f"mysql://app:{APP_PASSWORD}@db.dev.example.com:3306",
    f"mysq1://app:{APP_PASSWORD}@db.dev.example.com:3306/app",
    f"app:{APP_PASSWORD}@db.dev.example.com:3306/app",
    f"sqlite://app:{APP_PASSWORD}@/var/lib/devdb.sqlite3",
])
def test_bad_database_url_errors_never_hold_the_password(monkeypatch, recwarn, var, url):
    monkeypatch.setenv(var, url)
    with pytest.raises(ConfigError) as refused:
        conf.database_url(environ.Env(), var, "sqlite:///unused.sqlite3")
    assert var in str(refused.value)
    assert_no_secret(str(refused.value), "the error")
    assert_no_secret("\n".join(str(w.message) for w in recwarn), "a warning")


# --- manage.py end to end ------------------------------------------------------------------------


@pytest.fixture
def control_mysql(mariadb):
    """A control database on the MariaDB server reached by a user with a distinctive password."""
    import MySQLdb

    suffix = os.environ.get("DEVDB_TEST_DB_SUFFIX", "")
    user, name = f"devdb_secrets{suffix}"[:32], f"test_devdb_secrets{suffix}"
    admin = MySQLdb.connect(host=mariadb["host"], port=mariadb["port"], user=mariadb["user"], passwd=mariadb["password"])
    cursor = admin.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    for host in ("%", "localhost"):
        cursor.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{CONTROL_PASSWORD}'")
        cursor.execute(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY '{CONTROL_PASSWORD}'")
        cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}'")
    try:
        yield {**mariadb, "user": user, "password": CONTROL_PASSWORD, "database": name}
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for host in ("%", "localhost"):
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        admin.close()


def test_full_refresh_never_shows_or_records_a_password(moto_server, control_mysql, tmp_path):
    import MySQLdb

    moto_server.reset()
    zone_id = seed(moto_server.client("rds"), moto_server.client("route53"))
    db = control_mysql
    env = {
        **moto_server.env(),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        # The realistic dev deployment: the app reaches its database through the stable name.
        "DATABASE_URL": f"mysql://app:{APP_PASSWORD}@db.dev.example.com:3306/app",
        "DEVDB_DATABASE_URL": f"mysql://{db['user']}:{CONTROL_PASSWORD}@{db['host']}:{db['port']}/{db['database']}",
        "DEVDB_SOURCE_CLUSTER": "prod-aurora",
        "DEVDB_HOSTED_ZONE_ID": zone_id,
        "DEVDB_RECORD_NAME": "db.dev.example.com",
        "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
        "DEVDB_CLEAN_GRACE": "0",
        "DEVDB_MASTER_PASSWORD_ENV": "DEVDB_APP_MASTER_PASSWORD",
        "DEVDB_APP_MASTER_PASSWORD": MASTER_PASSWORD,
        "DEVDB_LOG_LEVEL": "DEBUG",
    }

    def run(*args):
        result = manage(*args, env=env, timeout=180)
        assert result.returncode == 0, result.stderr
        assert_no_secret(result.stdout, f"stdout of {args[0]}")
        assert_no_secret(result.stderr, f"stderr of {args[0]}")
        return result

    run("migrate", "--database", "devdb", "--verbosity", "0")
    dry = run("refresh_devdb", "--dry-run")
    assert "would create clone" in dry.stdout
    refresh = run("refresh_devdb", "--json", "--verbosity", "3")
    (outcome,) = json.loads(refresh.stdout)
    assert outcome["connected"] and outcome["error"] is None
    assert "set a new master password on" in refresh.stderr  # the password step really ran
    status = run("status_devdb", "--json")
    assert json.loads(status.stdout)["targets"][0]["points_at_clone"] == outcome["connected"]

    control = MySQLdb.connect(host=db["host"], port=db["port"], user=db["user"], passwd=CONTROL_PASSWORD, db=db["database"])
    try:
        cursor = control.cursor()
        for table in ("devdb_clonerecord", "devdb_cloneevent", "devdb_targetlease"):
            cursor.execute(f"SELECT * FROM {table}")
            assert_no_secret(history_text(cursor.fetchall()), table)
        cursor.execute("SELECT COUNT(*) FROM devdb_cloneevent WHERE message = 'master password replaced'")
        assert cursor.fetchone()[0] == 1
    finally:
        control.close()


def test_unreachable_control_database_is_reported_without_its_password(moto_server, tmp_path):
    moto_server.reset()
    zone_id = seed(moto_server.client("rds"), moto_server.client("route53"))
    env = moto_server.project_env(
        zone_id, tmp_path, DEVDB_DATABASE_URL=f"mysql://ops:{CONTROL_PASSWORD}@127.0.0.1:1/devdb")
    result = manage("refresh_devdb", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refresh_devdb: error: dev: control database 'devdb' cannot be reached")
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr, "the error")
    assert sorted(c["DBClusterIdentifier"] for c in moto_server.client("rds").describe_db_clusters()["DBClusters"]) == ["prod-aurora"]
