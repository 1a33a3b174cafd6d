"""The example project (manage.py, project.settings) run as subprocesses, over moto's standalone server.

`manage()` is the one way tests run manage.py. `DevdbProject` builds its environment: the app DB
and (by default) the control DB are SQLite files in tmp_path; with DEVDB_TEST_CONTROL_DB=mysql (or control="mysql") the control DB is a
fresh database on the MariaDB server, created here and dropped at teardown. It also reads the
control DB directly (records, events, leases) and the moto account (clusters, tags, the record).
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from devdb_sandbox.moto_server import seed
from tests.aws_calls import account_state

ROOT = Path(__file__).resolve().parent.parent
DAY1 = "2026-11-22T05:00:00Z"
DAY2 = "2026-11-23T05:00:00Z"
RECORD = "db.dev.example.com"
# A real run's stdout summary starts each line with its UTC time (cron mail reads in order).
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", re.M)


def manage(*args, env, check=False, timeout=120):
    """`python manage.py *args` at the repository root with exactly `env`; its output is captured as text.

    check=True fails the test, showing both streams, when the command exits non-zero."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def unstamped(summary):
    """The summary lines without their UTC timestamp (each must have one)."""
    lines = summary.strip().splitlines()
    assert all(STAMP.match(line) for line in lines), summary
    return STAMP.sub("", summary.strip())


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
OUR_TAGS = ("devdb:managed-by", "devdb:target", "devdb:state", "devdb:state-since", "devdb:source")


def control_kind():
    return "mysql" if os.environ.get("DEVDB_TEST_CONTROL_DB") == "mysql" else "sqlite"


def _mysql_params():
    from tests.conftest import mysql_params

    return mysql_params()


def _mysql_connect(params, database=None):
    import MySQLdb

    kwargs = dict(host=params["host"], port=params["port"], user=params["user"], passwd=params["password"],
                  connect_timeout=5)
    if database:
        kwargs["db"] = database
    return MySQLdb.connect(**kwargs)


def require_mariadb():
    """Skip (or, under CI=true, fail) when the MariaDB server is not reachable."""
    from tests.conftest import IN_CI

    params = _mysql_params()
    try:
        _mysql_connect(params).close()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"MariaDB is not reachable on {params['host']}:{params['port']} under CI=true: {exc}")
        pytest.skip(f"no MariaDB server on {params['host']}:{params['port']}")
    return params


class DevdbProject:
    """The example project wired to a moto server, with its own app and control databases.

    engine is the seeded source's ("aurora-mysql" or "aurora-postgresql"); sandbox settings (e.g.
    throttle, seed) are applied once the account is seeded, so seeding itself is never throttled.
    """

    def __init__(self, server, tmp_path, *, control=None, unrelated=0, engine="aurora-mysql", sandbox=None,
                 **target_env):
        self.server = server
        self.tmp = Path(tmp_path)
        self.control = control or control_kind()
        server.reset()
        self.rds = server.client("rds")
        self.route53 = server.client("route53")
        self.engine = engine
        self.zone_id = seed(self.rds, self.route53, unrelated=unrelated, engine=engine)
        if sandbox:
            server.configure(**sandbox)
        self.mysql_db = None
        if self.control == "mysql":
            self.mysql = require_mariadb()
            suffix = os.environ.get("DEVDB_TEST_DB_SUFFIX", "")
            self.mysql_db = f"devdb_e2e{suffix}_{uuid.uuid4().hex[:10]}"
            conn = _mysql_connect(self.mysql)
            try:
                conn.cursor().execute(f"CREATE DATABASE `{self.mysql_db}` CHARACTER SET utf8mb4")
            finally:
                conn.close()
            m = self.mysql
            auth = m["user"] + (f":{m['password']}" if m["password"] else "")
            control_url = f"mysql://{auth}@{m['host']}:{m['port']}/{self.mysql_db}"
        else:
            self.sqlite_path = self.tmp / "devdb.sqlite3"
            control_url = f"sqlite:///{self.sqlite_path}"
        self.base_env = {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{self.tmp / 'app.sqlite3'}",
            "DEVDB_DATABASE_URL": control_url,
            "DEVDB_SOURCE_CLUSTER": "prod-aurora",
            "DEVDB_HOSTED_ZONE_ID": self.zone_id,
            "DEVDB_RECORD_NAME": RECORD,
            "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
            "DEVDB_CLEAN_GRACE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        for key, value in target_env.items():
            self.base_env[f"DEVDB_{key.upper()}"] = str(value)
        for key in ("DEVDB_TARGET", "DJANGO_DEBUG"):
            self.base_env.setdefault(key, "")

    # --- processes -------------------------------------------------------------------------------

    def env(self, now=None, **target_env):
        """The subprocess environment; keyword arguments are target settings (CLEAN_GRACE=2 -> DEVDB_CLEAN_GRACE)."""
        env = {**self.server.env(now), **self.base_env}
        for key, value in target_env.items():
            env[f"DEVDB_{key.upper()}"] = str(value)
        return {k: v for k, v in env.items() if v != ""}

    def manage(self, *args, now=None, check=True, timeout=120, **extra):
        return manage(*args, env=self.env(now, **extra), check=check, timeout=timeout)

    def popen(self, *args, now=None, **extra):
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(now, **extra), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def migrate(self):
        """migrate both databases (at once: they are independent)."""
        procs = [self.popen("migrate", "--verbosity", "0"),
                 self.popen("migrate", "--database", "devdb", "--verbosity", "0")]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"migrate exited {proc.returncode}\n{out}\n{err}"

    def refresh(self, now, *args, **kwargs):
        return self.manage("refresh_devdb", *args, now=now, **kwargs)

    def status(self, now=None):
        return json.loads(self.manage("status_devdb", "--json", now=now).stdout)

    # --- the control database --------------------------------------------------------------------

    def query(self, sql):
        """Rows of `sql` on the control DB as dicts."""
        if self.control == "mysql":
            conn = _mysql_connect(self.mysql, self.mysql_db)
            try:
                cursor = conn.cursor()
                cursor.execute(sql)
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row)) for row in cursor.fetchall()]
            finally:
                conn.close()
        conn = sqlite3.connect(self.sqlite_path, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql).fetchall()]
        finally:
            conn.close()

    def execute(self, sql):
        if self.control == "mysql":
            conn = _mysql_connect(self.mysql, self.mysql_db)
            try:
                conn.cursor().execute(sql)
                conn.commit()
            finally:
                conn.close()
            return
        conn = sqlite3.connect(self.sqlite_path, timeout=10)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    def records(self):
        return {r["cluster_id"]: r for r in self.query("SELECT * FROM devdb_clonerecord")}

    def events(self, cluster_id):
        return [(e["from_state"], e["to_state"]) for e in self.query(
            "SELECT e.from_state, e.to_state FROM devdb_cloneevent e JOIN devdb_clonerecord r ON e.record_id = r.id "
            f"WHERE r.cluster_id = '{cluster_id}' ORDER BY e.at, e.id"
        )]

    def leases(self):
        try:
            return self.query("SELECT * FROM devdb_targetlease")
        except Exception:  # not migrated yet, or busy: no lease seen
            return []

    def wait_for_lease(self, proc, timeout=30):
        """Wait until `proc` holds a lease row (fails if it exits first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [r for r in self.leases() if r["pid"] == proc.pid]
            if rows:
                return rows[0]
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"process exited {proc.returncode} before taking the lease\n{out}\n{err}")
            time.sleep(0.05)
        raise AssertionError("no lease row appeared")

    def drop(self):
        if self.mysql_db:
            conn = _mysql_connect(self.mysql)
            try:
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{self.mysql_db}`")
            finally:
                conn.close()
            self.mysql_db = None

    # --- the AWS account -------------------------------------------------------------------------

    def clusters(self):
        """Every cluster by id (describe_db_clusters, paginated)."""
        out = {}
        for page in self.rds.get_paginator("describe_db_clusters").paginate():
            for c in page["DBClusters"]:
                out[c["DBClusterIdentifier"]] = c
        return out

    def instances(self):
        out = {}
        for page in self.rds.get_paginator("describe_db_instances").paginate():
            for i in page["DBInstances"]:
                out[i["DBInstanceIdentifier"]] = i
        return out

    def record_value(self):
        sets = self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        values = [rs["ResourceRecords"][0]["Value"] for rs in sets
                  if rs["Name"] == RECORD + "." and rs["Type"] == "CNAME"]
        assert len(values) <= 1
        return values[0] if values else None

    def snapshot(self):
        """Everything a run may have changed in the account."""
        return account_state(self)


def tags_of(item):
    return {t["Key"]: t["Value"] for t in item.get("TagList", [])}


# --- what a good morning leaves behind ------------------------------------------------------------

def unrelated_state(project):
    """Ids, statuses and tags of every cluster and instance that is not a clone."""
    clusters = {cid: (c["Status"], c["Endpoint"], tags_of(c), sorted(m["DBInstanceIdentifier"] for m in c["DBClusterMembers"]))
                for cid, c in project.clusters().items() if not cid.startswith("dev-")}
    instances = {iid: (i["DBInstanceStatus"], i["DBClusterIdentifier"], tags_of(i))
                 for iid, i in project.instances().items() if not iid.startswith("dev-")}
    return clusters, instances


def clone_ids(project):
    return sorted(cid for cid in project.clusters() if cid.startswith("dev-"))


def assert_connected_clone(project, cluster_id, day):
    """cluster_id is the one live clone: writer <cluster>-1, the five tags on both, the CNAME on it."""
    cluster = project.clusters()[cluster_id]
    writer = f"{cluster_id}-1"
    instance = project.instances()[writer]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [writer]
    assert cluster["DBClusterMembers"][0]["IsClusterWriter"] is True
    assert instance["DBClusterIdentifier"] == cluster_id
    assert instance["DBInstanceClass"] == "db.t4g.medium"
    assert cluster["Engine"] == project.engine
    for tags in (tags_of(cluster), tags_of(instance)):
        ours = {k: v for k, v in tags.items() if k.startswith("devdb:")}
        assert set(ours) == set(OUR_TAGS)
        assert ours["devdb:managed-by"] == "django-devdb"
        assert ours["devdb:target"] == "dev"
        assert ours["devdb:state"] == "connected"
        assert ours["devdb:source"] == "prod-aurora"
        assert ISO.match(ours["devdb:state-since"]), ours["devdb:state-since"]
        since = datetime.strptime(ours["devdb:state-since"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert day <= since < day + timedelta(minutes=5)
    assert tags_of(cluster)["devdb:state-since"] == tags_of(instance)["devdb:state-since"]
    # The stable name points at the connected clone's cluster (writer) endpoint.
    assert cluster["Endpoint"].startswith(f"{cluster_id}.cluster-")
    assert project.record_value().rstrip(".") == cluster["Endpoint"]
    sets = project.route53.list_resource_record_sets(HostedZoneId=project.zone_id)["ResourceRecordSets"]
    cname = [s for s in sets if s["Name"] == RECORD + "."]
    assert len(cname) == 1 and cname[0]["Type"] == "CNAME" and cname[0]["TTL"] == 60


def day_at(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def assert_status_json(project, now, live, leaving=None):
    """status_devdb --json names `live` the one clone, like its source; `leaving` (yesterday's, deleted
    this morning) may still be listed while AWS keeps it `deleting`."""
    status = project.status(now)
    assert set(status) == {"targets"}
    (report,) = status["targets"]
    assert set(report) == {"target", "record_name", "points_at", "points_at_clone", "clones", "branches", "failures"}
    assert report["failures"] == []  # a good morning: no failure to report
    assert report["target"] == "dev"
    assert report["record_name"] == RECORD
    assert report["points_at_clone"] == live
    endpoint = project.clusters()[live]["Endpoint"]
    assert report["points_at"].rstrip(".") == endpoint
    clones = {clone["cluster"]: clone for clone in report["clones"]}
    lingering = clones.pop(leaving, None)
    assert lingering is None or (lingering["state"], lingering["status"], lingering["live"]) == ("aborted", "deleting", False)
    (clone,) = clones.values()
    assert set(clone) == {"cluster", "state", "state_since", "status", "instances", "endpoint", "source", "live",
                          "parity", "like_source"}
    assert (clone["parity"], clone["like_source"]) == ("configured like prod-aurora", True)
    assert clone["cluster"] == live
    assert clone["state"] == "connected"
    assert ISO.match(clone["state_since"])
    assert clone["status"] == "available"
    assert clone["instances"] == [{"id": f"{live}-1", "status": "available", "state": "connected"}]
    assert clone["endpoint"] == endpoint
    assert clone["source"] == "prod-aurora"
    assert clone["live"] is True
    return report



def _projects(server, tmp_path):
    """A factory of migrated DevdbProjects on `server`, dropped at teardown."""
    made = []

    def make(migrate=True, **kwargs):
        project = DevdbProject(server, tmp_path / f"p{len(made)}", **kwargs)
        project.tmp.mkdir(parents=True, exist_ok=True)
        made.append(project)
        if migrate:
            project.migrate()
        return project

    yield make
    for project in made:
        project.drop()


@pytest.fixture
def devdb_project(moto_server, tmp_path):
    """A factory: devdb_project(unrelated=N, control=..., CLEAN_GRACE=...) -> a migrated DevdbProject."""
    yield from _projects(moto_server, tmp_path)


@pytest.fixture
def realistic_devdb_project(realistic_moto_server, tmp_path):
    """The same factory on the realistic server (AWS's timing and state rules; sandbox={...} sets throttling)."""
    yield from _projects(realistic_moto_server, tmp_path)
