"""Shared fixtures.

- `aws`: moto in-process, seeded with the source cluster `prod-aurora` and hosted zone dev.example.com.
- `devdb_settings`: settings.DEVDB with target `dev` pointing at that zone (edit the returned dict).
- `clock`: a fake clock; nothing in the tests really sleeps.
- `make_engine`: an Engine for a target on the fake clock.
- `mariadb`: connection parameters of the MariaDB server; skips without one, fails under CI=true.
- `postgresql`: the same for the PostgreSQL server (DEVDB_TEST_POSTGRES_URL).
- `postgresql_account`: a role with a password and its own database holding `users`, dropped afterwards.
- `moto_server`: the sandbox's moto server (AWS's data rules) on a free loopback port (session-wide; reset per use).
- `realistic_moto_server`: the same in realistic mode (AWS's timing and state rules, throttling), delays
  scaled down by DEVDB_SANDBOX_SCALE (default here 0.25), throttled share as the server's default.

`aws` and both servers apply sandbox.aws_rules: a restore copies none of the source's configuration.

Tests that touch the records need `@pytest.mark.django_db(databases="__all__")`.
"""

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from devdb_sandbox import aws_rules
from devdb_sandbox.moto_server import CREDENTIALS, MotoServer, seed

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# moto builds EC2's ~2,600 default AMIs for every fresh account (a quarter second per seeded test); devdb
# uses none of them.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
START = datetime(2026, 11, 22, 5, 0, 0, tzinfo=timezone.utc)


class FakeClock:
    """now() and sleep() for the engine: sleeping only moves the clock forward."""

    def __init__(self, start=START):
        self.moment = start
        self.sleeps = []

    def now(self):
        return self.moment

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)

    def advance(self, **delta):
        self.moment += timedelta(**delta)


class Account:
    def __init__(self, rds, route53, tagging, zone_id):
        self.rds, self.route53, self.tagging, self.zone_id = rds, route53, tagging, zone_id

    def cluster_ids(self):
        return sorted(c["DBClusterIdentifier"] for c in self.rds.describe_db_clusters()["DBClusters"])

    def instance_ids(self):
        return sorted(i["DBInstanceIdentifier"] for i in self.rds.describe_db_instances()["DBInstances"])

    def cluster(self, cluster_id):
        return self.rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]

    def tags(self, cluster_id):
        return {t["Key"]: t["Value"] for t in self.cluster(cluster_id).get("TagList", [])}

    def instance_tags(self, instance_id):
        item = self.rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
        return {t["Key"]: t["Value"] for t in item.get("TagList", [])}

    def record(self, name="db.dev.example.com"):
        sets = self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        for rs in sets:
            if rs["Name"] == name + "." and rs["Type"] == "CNAME":
                return rs["ResourceRecords"][0]["Value"]
        return None


@pytest.fixture
def aws(monkeypatch, request):
    """moto in-process with AWS's data rules, seeded: a production-like source unless the test is marked
    `@pytest.mark.seed(production=False)` (any seed() keyword arguments)."""
    from moto import mock_aws
    import boto3

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    aws_rules.apply()
    aws_rules.SIM.reset()
    aws_rules.SIM.configure(realistic=False)  # a test that turned realistic rules on in-process leaves them off
    request.addfinalizer(lambda: aws_rules.SIM.configure(realistic=False))
    with mock_aws():
        rds, route53 = boto3.client("rds"), boto3.client("route53")
        marker = request.node.get_closest_marker("seed")
        zone_id = seed(rds, route53, **(marker.kwargs if marker else {}))
        yield Account(rds, route53, boto3.client("resourcegroupstaggingapi"), zone_id)


def target_settings(zone_id, **overrides):
    return {
        "SOURCE_CLUSTER": "prod-aurora",
        "HOSTED_ZONE_ID": zone_id,
        "RECORD_NAME": "db.dev.example.com",
        "INSTANCE_CLASS": "db.t4g.medium",
        "CLEAN_GRACE": 0,
        **overrides,
    }


@pytest.fixture
def devdb_settings(settings, aws):
    settings.DEVDB = {
        "DATABASE": "devdb",
        "TARGETS": {"dev": target_settings(aws.zone_id)},
        "POLL_INITIAL": 5,
        "POLL_MAX": 30,
    }
    return settings.DEVDB


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_engine(devdb_settings, clock):
    from devdb import conf
    from devdb.aws import Gateway
    from devdb.engine import Engine

    def make(name="dev", gateway=None, **kwargs):
        settings = conf.get_settings()
        return Engine(settings.targets[name], gateway or Gateway(max_attempts=3), settings, clock=clock, **kwargs)

    return make


def mysql_params():
    import environ

    url = os.environ.get("DEVDB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
    cfg = environ.Env.db_url_config(url)
    return {"host": cfg["HOST"] or "127.0.0.1", "port": int(cfg["PORT"] or 3306), "user": cfg["USER"] or "root",
            "password": cfg["PASSWORD"] or "", "database": cfg["NAME"] or "test"}


def mariadb_unreachable(params):
    """The error connecting to the MariaDB server, or None when it answers."""
    try:
        import MySQLdb

        MySQLdb.connect(host=params["host"], port=params["port"], user=params["user"], passwd=params["password"],
                        connect_timeout=3).close()
    except Exception as exc:
        return exc
    return None


@pytest.fixture
def mariadb():
    """The MariaDB server's parameters. Skips on a laptop without one; under CI=true it must be there."""
    params = mysql_params()
    if exc := mariadb_unreachable(params):
        if IN_CI:
            pytest.fail(f"MariaDB is not reachable on {params['host']}:{params['port']} under CI=true: {exc}")
        pytest.skip(f"no MariaDB server on {params['host']}:{params['port']}")
    return params


def postgres_params():
    import environ

    url = os.environ.get("DEVDB_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    cfg = environ.Env.db_url_config(url)
    return {"host": cfg["HOST"] or "127.0.0.1", "port": int(cfg["PORT"] or 5432), "user": cfg["USER"] or "postgres",
            "password": cfg["PASSWORD"] or "", "database": cfg["NAME"] or "postgres"}


def postgresql_unreachable(params):
    """The error connecting to the PostgreSQL server, or None when it answers."""
    try:
        import psycopg

        psycopg.connect(host=params["host"], port=params["port"], user=params["user"], password=params["password"],
                        dbname=params["database"], connect_timeout=3).close()
    except Exception as exc:
        return exc
    return None


@pytest.fixture
def postgresql():
    """The PostgreSQL server's parameters. Skips on a laptop without one; under CI=true it must be there."""
    params = postgres_params()
    if exc := postgresql_unreachable(params):
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable on {params['host']}:{params['port']} under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL server on {params['host']}:{params['port']}")
    return params


@pytest.fixture
def postgresql_account(postgresql):
    """A login role with a password owning its own database, which holds `users` (id, email, name) with two
    rows, on the PostgreSQL server; both dropped afterwards. Names carry DEVDB_TEST_DB_SUFFIX."""
    import psycopg
    from psycopg import sql

    name = f"devdb{os.environ.get('DEVDB_TEST_DB_SUFFIX', '')}_helper_{uuid.uuid4().hex[:10]}"
    password = "pg-Pw-" + uuid.uuid4().hex[:12]

    def admin(database=None):
        return psycopg.connect(host=postgresql["host"], port=postgresql["port"], user=postgresql["user"],
                               password=postgresql["password"], dbname=database or postgresql["database"], autocommit=True)

    def rows():
        with admin(name) as conn:
            return [tuple(r) for r in conn.execute("SELECT id, email, name FROM users ORDER BY id").fetchall()]

    root = admin()
    try:
        root.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        root.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)))
        with admin(name) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(name)))
            conn.execute("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(200), name VARCHAR(200))")
            conn.cursor().executemany("INSERT INTO users VALUES (%s, %s, %s)",
                                      [(1, "alice@corp.example", "Alice Smith"), (2, "bob@corp.example", "Bob Jones")])
        yield {"host": postgresql["host"], "port": postgresql["port"], "user": name, "password": password,
               "database": name, "rows": rows}
    finally:
        root.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        root.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        root.close()


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def realistic_moto_server():
    server = MotoServer(realistic=True, env={"DEVDB_SANDBOX_SCALE": os.environ.get("DEVDB_SANDBOX_SCALE", "0.25")})
    yield server
    server.stop()


# The tests that exercise the control database itself (its SQL: leases, records, the admin's and
# status_devdb's queries), run again by scripts/test with a MariaDB and a PostgreSQL control database.
# End-to-end tests in these modules are left out of those passes: they choose their control database
# themselves (tests/project.py), and run once.
CONTROL_DB_MODULES = {"test_admin", "test_monitoring", "test_router", "test_runs", "test_signals"}


def pytest_collection_modifyitems(config, items):
    """Mark the control_db tests; with DEVDB_TEST_ONLY=control_db (scripts/test's MariaDB and PostgreSQL
    passes) run only those, whatever -m or -k also says."""
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in CONTROL_DB_MODULES and not item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.control_db)
    if os.environ.get("DEVDB_TEST_ONLY") == "control_db":
        kept = [item for item in items if item.get_closest_marker("control_db")]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def pytest_sessionfinish(session, exitstatus):
    """In scripts/test's control_db passes, a -k / -m that selects none of their tests (`scripts/test -k
    NAME`, NAME a test of the SQLite pass only) is no failure. Anywhere else "no tests" stays exit 5: a
    run that tested nothing must not pass."""
    narrowed = session.config.option.keyword or session.config.option.markexpr
    if (exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and os.environ.get("DEVDB_TEST_ONLY") == "control_db"
            and narrowed):
        session.exitstatus = pytest.ExitCode.OK


def pytest_configure(config):
    """The MariaDB and PostgreSQL passes need their server: skip the pass on a laptop without one, fail under CI."""
    config.addinivalue_line("markers", "seed(**kwargs): keyword arguments for seed() in the `aws` fixture")
    kind = os.environ.get("DEVDB_TEST_CONTROL_DB")
    if kind == "mysql":
        params, unreachable, server = mysql_params(), mariadb_unreachable, "MariaDB"
    elif kind == "postgresql":
        params, unreachable, server = postgres_params(), postgresql_unreachable, "PostgreSQL"
    else:
        return
    if exc := unreachable(params):
        if IN_CI:
            pytest.exit(f"{server} control database unreachable under CI=true: {exc}", returncode=1)
        pytest.exit(f"skipping the {server} pass: no server ({exc})", returncode=0)
