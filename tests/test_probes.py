"""READINESS_PROBE = "sql" against the real MariaDB server on 127.0.0.1:3306.

The probe functions are exercised directly (success, wrong password, closed port, a server that
never answers); then the engine with moto: the clone's endpoint is a fake AWS host name, so the
only fake is devdb.probes.connect sending that host to 127.0.0.1.
"""

import logging
import socket
import time
import uuid

import pytest

from devdb import probes
from devdb.errors import CloneFailed
from devdb.models import CloneEvent, CloneRecord
from devdb_sandbox.moto_server import free_port

PASSWORD = "s3cr3t-Probe-" + uuid.uuid4().hex[:8]


def _root(mariadb):
    import MySQLdb

    conn = MySQLdb.connect(host=mariadb["host"], port=mariadb["port"], user=mariadb["user"], passwd=mariadb["password"])
    conn.autocommit(True)
    return conn


@pytest.fixture
def account(mariadb):
    """A dedicated user (with a password) and database on the MariaDB server, dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    user, database = f"devdb_probe_{suffix}", f"devdb_probe_{suffix}"
    root = _root(mariadb)
    cursor = root.cursor()

    def set_password(password):
        for host in ("%", "localhost", "127.0.0.1"):
            cursor.execute(f"ALTER USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (password,))

    info = {"host": mariadb["host"], "port": mariadb["port"], "user": user, "password": PASSWORD,
            "database": database, "set_password": set_password}
    try:
        cursor.execute(f"CREATE DATABASE `{database}`")
        for host in ("%", "localhost", "127.0.0.1"):
            cursor.execute(f"CREATE USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (PASSWORD,))
            cursor.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")
        yield info
    finally:
        for host in ("%", "localhost", "127.0.0.1"):
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        root.close()


def creds(account, **overrides):
    values = {k: account[k] for k in ("port", "user", "password", "database")}
    return {**values, **overrides}


@pytest.mark.mysql
def test_sql_probe_logs_in_and_runs_select_1(account):
    probes.sql_ready(account["host"], timeout=5, credentials=creds(account))


@pytest.mark.mysql
def test_wrong_password_is_an_authentication_failure_without_the_password(account):
    wrong = "Wr0ng-" + uuid.uuid4().hex
    with pytest.raises(probes.ProbeError) as info:
        probes.sql_ready(account["host"], timeout=5, credentials=creds(account, password=wrong))
    text = str(info.value)
    assert text.startswith("authentication failed")
    assert account["user"] in text  # the reason names who could not log in ...
    assert wrong not in text and PASSWORD not in text  # ... never with what
    assert "\n" not in text


@pytest.mark.mysql
def test_closed_port_is_unreachable(account):
    port = free_port()  # bound and released: nobody listens there
    start = time.monotonic()
    with pytest.raises(probes.ProbeError) as info:
        probes.sql_ready("127.0.0.1", timeout=5, credentials=creds(account, port=port))
    assert str(info.value).startswith("unreachable")
    assert PASSWORD not in str(info.value)
    assert time.monotonic() - start < 5


@pytest.mark.mysql
def test_connect_timeout_is_bounded(account):
    """A server that accepts the TCP connection but never greets: the probe gives up after the timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        start = time.monotonic()
        with pytest.raises(probes.ProbeError) as info:
            probes.sql_ready("127.0.0.1", timeout=1, credentials=creds(account, port=silent.getsockname()[1]))
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert str(info.value).startswith("timeout")
    assert elapsed < 4, f"connect timeout of 1s took {elapsed:.1f}s"


@pytest.mark.mysql
def test_probe_uses_the_apps_default_database_credentials(account, monkeypatch, settings):
    """Without explicit credentials: USER, PASSWORD, NAME and PORT of DATABASES['default']."""
    use_app_database(monkeypatch, settings, account)
    assert probes.app_credentials() == creds(account)
    probes.sql_ready(account["host"], timeout=5)


def use_app_database(monkeypatch, settings, account):
    default = settings.DATABASES["default"]
    for key, value in (("USER", account["user"]), ("PASSWORD", account["password"]),
                       ("NAME", account["database"]), ("PORT", str(account["port"]))):
        monkeypatch.setitem(default, key, value)


def redirect_to_mariadb(monkeypatch, account, on_attempt=None):
    """The one fake: the clone's (fake AWS) endpoint is reached at the MariaDB server's address."""
    real_connect = probes.connect
    hosts = []

    def connect(host, **kwargs):
        hosts.append(host)
        if on_attempt:
            on_attempt(len(hosts))
        return real_connect(account["host"], **kwargs)

    monkeypatch.setattr(probes, "connect", connect)
    return hosts


@pytest.fixture
def sql_target(devdb_settings, monkeypatch, settings, account):
    devdb_settings["TARGETS"]["dev"].update({"READINESS_PROBE": "sql", "READY_TIMEOUT": 900})
    use_app_database(monkeypatch, settings, account)
    return devdb_settings


@pytest.mark.mysql
@pytest.mark.django_db(databases="__all__")
@pytest.mark.seed(production=False)  # a bare source on port 3306: the clone's login is redirected to MariaDB
def test_clone_is_ready_only_once_the_app_can_log_in(aws, sql_target, account, make_engine, clock, monkeypatch):
    account["set_password"]("not-yet-" + uuid.uuid4().hex[:6])  # e.g. the new password is still being applied

    def on_attempt(n):
        if n == 4:
            account["set_password"](PASSWORD)

    hosts = redirect_to_mariadb(monkeypatch, account, on_attempt)
    engine = make_engine()
    engine.refresh()

    endpoint = aws.cluster("dev-20261122")["Endpoint"]
    assert hosts and set(hosts) == {endpoint}  # the probe went to the clone's writer endpoint
    assert len(hosts) == 4  # three refused logins, then SELECT 1
    assert len(clock.sleeps) >= 3
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert aws.record() == endpoint
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert record.ready_at is not None and record.last_error == ""
    assert CloneEvent.objects.filter(record=record, to_state="ready", message__contains="sql probe").exists()


@pytest.mark.mysql
@pytest.mark.django_db(databases="__all__")
@pytest.mark.seed(production=False)  # a bare source on port 3306: the clone's login is redirected to MariaDB
def test_clone_that_never_accepts_the_login_is_aborted_with_the_reason(
    aws, sql_target, account, make_engine, clock, monkeypatch, caplog, capsys
):
    account["set_password"]("never-" + uuid.uuid4().hex[:6])
    hosts = redirect_to_mariadb(monkeypatch, account)
    engine = make_engine()
    caplog.set_level(logging.DEBUG, logger="devdb")
    start = clock.now()

    with pytest.raises(CloneFailed) as info:
        engine.refresh()

    assert (clock.now() - start).total_seconds() >= 900  # it kept trying until READY_TIMEOUT
    assert len(hosts) > 3
    assert "sql probe did not succeed within READY_TIMEOUT (900s)" in str(info.value)
    assert "authentication failed" in str(info.value)
    assert aws.record() is None  # the name was never moved
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert "authentication failed" in record.last_error
    aborted = CloneEvent.objects.get(record=record, to_state="aborted")
    assert aborted.from_state == "created" and "authentication failed" in aborted.message
    # A failed clone is no rollback target: the same refresh cleaned it up (CLEAN_GRACE 0).
    assert record.state == "deleted" and "dev-20261122" not in aws.cluster_ids()
    out, err = capsys.readouterr()
    everything = [str(info.value), record.last_error, caplog.text, out, err,
                  *CloneEvent.objects.values_list("message", flat=True)]
    assert not [text for text in everything if PASSWORD in text]
