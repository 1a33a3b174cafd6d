"""Database flavours talking to a clone, against the real servers: MariaDB for Aurora MySQL, PostgreSQL
for Aurora PostgreSQL (devdb.probes picks the flavour from the clone's Engine).

Each flavour logs in and runs SELECT 1; tells a refused login (LoginRefused, which the engine retries
until its deadline) from a closed port, an unknown host and a server that never answers; runs a script
statement by statement and rolls it back when one fails, naming the statement. The shared PostgreSQL
server trusts every local login, so the wrong password is tried on a private PostgreSQL server
(initdb, scram-sha-256) started for this module.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from devdb import flavours, probes
from devdb.flavours.base import Flavour
from devdb_sandbox.moto_server import free_port
from tests.conftest import IN_CI

MYSQL_PASSWORD = "s3cr3t-Flavour-" + uuid.uuid4().hex[:8]
USERS = [(1, "alice@corp.example", "Alice Smith"), (2, "bob@corp.example", "Bob Jones")]
ENGINES = ["aurora-mysql", "aurora-postgresql"]
MASK = """-- scrub the users (both dialects)
UPDATE users SET email = CONCAT('user', id, '@example.invalid');
UPDATE users SET name = CONCAT('User ', id); -- a trailing comment
"""
FAILS = """-- the second statement fails: nothing of the script may stay applied
UPDATE users SET email = CONCAT('user', id, '@example.invalid');
UPDATE no_such_table SET email = NULL;
UPDATE users SET name = 'never reached';
"""


@pytest.fixture
def mysql_account(mariadb):
    """A user with a password and its own database holding `users`, on the MariaDB server; dropped afterwards."""
    import MySQLdb

    name = f"devdb{os.environ.get('DEVDB_TEST_DB_SUFFIX', '')}_fl_{uuid.uuid4().hex[:8]}"
    root = MySQLdb.connect(host=mariadb["host"], port=mariadb["port"], user=mariadb["user"], passwd=mariadb["password"])
    root.autocommit(True)
    cursor = root.cursor()
    hosts = ("%", "localhost", "127.0.0.1")

    def rows():
        cursor.execute(f"SELECT id, email, name FROM `{name}`.users ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]

    try:
        cursor.execute(f"CREATE DATABASE `{name}`")
        for host in hosts:
            cursor.execute(f"CREATE USER '{name}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (MYSQL_PASSWORD,))
            cursor.execute(f"GRANT ALL ON `{name}`.* TO '{name}'@'{host}'")
        cursor.execute(f"CREATE TABLE `{name}`.users (id INT PRIMARY KEY, email VARCHAR(200), name VARCHAR(200)) ENGINE=InnoDB")
        cursor.executemany(f"INSERT INTO `{name}`.users VALUES (%s, %s, %s)", USERS)
        yield {"host": mariadb["host"], "port": mariadb["port"], "user": name, "password": MYSQL_PASSWORD,
               "database": name, "rows": rows}
    finally:
        for host in hosts:
            cursor.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        root.close()


@pytest.fixture(params=ENGINES)
def account(request):
    """(engine, account) for each flavour: its server, a user with a password, a database with `users`."""
    fixture = "mysql_account" if request.param == "aurora-mysql" else "postgresql_account"
    return request.param, request.getfixturevalue(fixture)


def creds(account, **overrides):
    return {**{k: account[k] for k in ("port", "user", "password", "database")}, **overrides}


def assert_one_safe_line(text, *secrets):
    assert "\n" not in text
    assert not [secret for secret in secrets if secret and secret in text]


# --- a private PostgreSQL server that checks passwords -------------------------------------------


@pytest.fixture(scope="module")
def password_postgresql():
    """A throwaway PostgreSQL server on a free port with scram-sha-256 for every login, and the password
    of its superuser `postgres_helper_admin`. Skips without PostgreSQL's server binaries (fails under CI)."""
    try:
        bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        bindir, missing = None, exc
    if bindir is None or not (bindir / "initdb").exists():
        if IN_CI:
            pytest.fail(f"PostgreSQL's initdb is needed under CI=true: {missing if bindir is None else bindir}")
        pytest.skip("no PostgreSQL server binaries (initdb)")
    as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # postgres refuses to run as root
    home = Path(tempfile.mkdtemp(prefix="devdb_postgres_helper_"))
    password = "admin-" + uuid.uuid4().hex[:12]
    (home / "pw").write_text(password)
    if as_server:
        shutil.chown(home, "postgres")
        shutil.chown(home / "pw", "postgres")
    port = free_port()
    data = home / "data"

    def run(*args):
        subprocess.run([*as_server, *map(str, args)], check=True, capture_output=True, timeout=120)

    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres_helper_admin", "--auth=scram-sha-256",
            f"--pwfile={home / 'pw'}", "-E", "UTF8", "--no-sync")
        run(bindir / "pg_ctl", "-D", data, "-l", home / "log", "-w", "start",
            "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c fsync=off")
        yield {"host": "127.0.0.1", "port": port, "user": "postgres_helper_admin", "password": password,
               "database": "postgres"}
    finally:
        if (data / "postmaster.pid").exists():
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def password_role(password_postgresql):
    """A role with a password on the private server (which checks it)."""
    import psycopg
    from psycopg import sql

    name, password = "postgres_helper_app", "app-" + uuid.uuid4().hex[:12]
    admin = psycopg.connect(host="127.0.0.1", port=password_postgresql["port"], user=password_postgresql["user"],
                            password=password_postgresql["password"], dbname="postgres", autocommit=True)
    try:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        yield {"host": "127.0.0.1", "port": password_postgresql["port"], "user": name, "password": password,
               "database": "postgres"}
    finally:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        admin.close()


# --- probe -------------------------------------------------------------------------------------


def test_probe_logs_in_and_runs_select_1(account):
    engine, acc = account
    probes.sql_ready(acc["host"], timeout=5, engine=engine, credentials=creds(acc))


def test_wrong_password_on_mariadb_is_a_refused_login_without_the_password(mysql_account):
    wrong = "Wr0ng-" + uuid.uuid4().hex
    with pytest.raises(probes.LoginRefused) as info:
        probes.sql_ready(mysql_account["host"], timeout=5, engine="aurora-mysql",
                         credentials=creds(mysql_account, password=wrong))
    text = str(info.value)
    assert text.startswith("authentication failed (1045): ")
    assert mysql_account["user"] in text  # who could not log in ...
    assert_one_safe_line(text, wrong, MYSQL_PASSWORD)  # ... never with what


def test_wrong_password_on_postgresql_is_a_refused_login_without_the_password(password_role):
    probes.sql_ready(password_role["host"], timeout=5, engine="aurora-postgresql", credentials=creds(password_role))
    wrong = "Wr0ng-" + uuid.uuid4().hex
    with pytest.raises(probes.LoginRefused) as info:
        probes.sql_ready(password_role["host"], timeout=5, engine="aurora-postgresql",
                         credentials=creds(password_role, password=wrong))
    text = str(info.value)
    assert text.startswith("authentication failed: ")
    assert f'password authentication failed for user "{password_role["user"]}"' in text
    assert_one_safe_line(text, wrong, password_role["password"])


def test_closed_port_is_unreachable(account):
    engine, acc = account
    port = free_port()  # bound and released: nobody listens there
    start = time.monotonic()
    with pytest.raises(probes.ProbeError) as info:
        probes.sql_ready("127.0.0.1", timeout=5, engine=engine, credentials=creds(acc, port=port))
    assert not isinstance(info.value, probes.LoginRefused)  # not retried as a lagging password
    assert str(info.value).startswith("unreachable")
    assert_one_safe_line(str(info.value), acc["password"])
    assert time.monotonic() - start < 5


def test_unknown_host_is_unreachable(account):
    engine, acc = account
    with pytest.raises(probes.ProbeError) as info:
        probes.sql_ready("no-such-clone.invalid", timeout=5, engine=engine, credentials=creds(acc))
    assert str(info.value).startswith("unreachable (unknown host)")
    assert_one_safe_line(str(info.value), acc["password"])


def test_a_server_that_never_answers_is_a_timeout(account):
    """It accepts the TCP connection but never greets: the probe gives up after its timeout."""
    engine, acc = account
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        start = time.monotonic()
        with pytest.raises(probes.ProbeError) as info:
            probes.sql_ready("127.0.0.1", timeout=1, engine=engine, credentials=creds(acc, port=silent.getsockname()[1]))
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert not isinstance(info.value, probes.LoginRefused)
    assert str(info.value).startswith("timeout")
    assert elapsed < 4, f"a connect timeout of 1s took {elapsed:.1f}s"  # psycopg waits at least 2s


# --- scripts -----------------------------------------------------------------------------------


def test_a_script_runs_statement_by_statement_and_commits(account, tmp_path):
    engine, acc = account
    script = tmp_path / "mask.sql"
    script.write_text(MASK)
    probes.run_script(acc["host"], str(script), timeout=5, engine=engine, credentials=creds(acc))
    assert acc["rows"]() == [(1, "user1@example.invalid", "User 1"), (2, "user2@example.invalid", "User 2")]


def test_a_failing_statement_2_is_named_and_leaves_the_data_as_before(account, tmp_path):
    engine, acc = account
    script = tmp_path / "mask_fails.sql"
    script.write_text(FAILS)
    before = acc["rows"]()
    with pytest.raises(probes.ProbeError) as info:
        probes.run_script(acc["host"], str(script), timeout=5, engine=engine, credentials=creds(acc))
    text = str(info.value)
    assert not isinstance(info.value, probes.LoginRefused)  # something ran: never retried
    assert text.startswith(f"{script}: statement 2 failed: error (")
    assert "no_such_table" in text
    assert_one_safe_line(text, acc["password"])
    assert acc["rows"]() == before  # statement 1 was rolled back with the script


def test_a_refused_login_runs_nothing(account, tmp_path):
    engine, acc = account
    if engine == "aurora-postgresql":
        acc = {**acc, "user": acc["user"] + "_nobody"}  # the shared server trusts passwords: an unknown role
    else:
        acc = {**acc, "password": "Wr0ng-" + uuid.uuid4().hex}
    script = tmp_path / "mask.sql"
    script.write_text(MASK)
    with pytest.raises(probes.LoginRefused, match="^authentication failed"):
        probes.run_script(acc["host"], str(script), timeout=5, engine=engine, credentials=creds(acc))


def test_scripts_are_split_into_statements_as_a_client_would():
    script = """-- header comment
    INSERT INTO notes VALUES ('a; b');  -- a semicolon inside a string
    CREATE FUNCTION one() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; -- mysqlclient would run this as a 2nd statement
    /* only a comment */
    /*!40014 SET FOREIGN_KEY_CHECKS=0 */;
    """
    statements = Flavour.statements(script)
    assert len(statements) == 3
    assert statements[0].endswith("INSERT INTO notes VALUES ('a; b')")  # no closing semicolon, nor what follows it
    assert statements[1] == "CREATE FUNCTION one() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql"
    assert statements[2].endswith("\n    /*!40014 SET FOREIGN_KEY_CHECKS=0 */")  # MySQL's executable comment is code
    assert Flavour.statements("-- nothing but a comment\n") == []


# --- choosing the flavour ----------------------------------------------------------------------


def test_each_aurora_engine_has_its_flavour_port_and_scheme():
    mysql, postgresql = flavours.for_engine("aurora-mysql"), flavours.for_engine("aurora-postgresql")
    assert (mysql.vendor, mysql.default_port, mysql.schemes[0], mysql.label) == ("mysql", 3306, "mysql", "Aurora MySQL")
    assert (postgresql.vendor, postgresql.default_port, postgresql.schemes[0], postgresql.label) == (
        "postgresql", 5432, "postgres", "Aurora PostgreSQL")
    assert type(flavours.for_scheme("postgres")) is type(postgresql)
    with pytest.raises(ValueError, match="'aurora'"):
        flavours.for_engine("aurora")  # Aurora MySQL 5.6, retired


def test_the_apps_credentials_take_the_clones_port_then_the_engines_default(settings, monkeypatch):
    default = settings.DATABASES["default"]
    for key, value in (("USER", "app"), ("PASSWORD", "pw"), ("NAME", "shop")):
        monkeypatch.setitem(default, key, value)
    monkeypatch.setitem(default, "PORT", "")
    assert probes.app_credentials(engine="aurora-postgresql")["port"] == 5432
    assert probes.app_credentials(engine="aurora-mysql")["port"] == 3306
    monkeypatch.setitem(default, "PORT", "6432")
    assert probes.app_credentials(engine="aurora-postgresql")["port"] == 6432
    assert probes.app_credentials(engine="aurora-postgresql", port=5433) == {
        "user": "app", "password": "pw", "database": "shop", "port": 5433}
