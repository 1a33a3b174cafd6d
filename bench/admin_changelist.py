"""Render time and query count of the CloneRecord admin at scale.

    .venv/bin/python -m bench.admin_changelist [--records 10000] [--renders 20] [--mysql [URL] | --postgresql [URL]]

Builds a throw-away control database (a temporary SQLite file, or with --mysql / --postgresql a scratch
database on the MariaDB/MySQL or PostgreSQL server, dropped afterwards; no ANALYZE is run) holding
--records CloneRecords across 5 targets, with 4 CloneEvents each (every 50th clone, and the newest of
target `demo`, failed: created -> aborted), then times the control-database queries of the admin's
banner ("last run failed") and of `status_devdb` (the failures not yet made good, every target) as
they are now beside the queries they replaced (--no-old: skip those, which take a minute at 50,000
records on SQLite and PostgreSQL), then renders /admin/devdb/clonerecord/ (and a few filtered, searched, sorted and
paged variants, plus one record's change page with its events) through Django's test client as a
logged-in superuser. Reports, per page: the median and min wall time of --renders renders after one
warm-up render (the view, the ORM and template rendering, in this process; no HTTP server), and the
SQL queries of one render per database alias (default: session and user; devdb: the history).

Then (unless --no-status) the whole `status_devdb` and `status_devdb --check` commands, as a user runs them:
the AWS side is the sandbox's moto server over HTTP (seeded, then one real `refresh_devdb` so target `dev`
has a live clone), the control database the one above, timed at --small records and at --records. Reports
the median and min wall time of --renders runs (in this process, call_command) and how much of it was the
control database's queries.

The app's code is whatever devdb/admin.py is now; the project is project/settings.py.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/devdb_bench"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/devdb_bench"
TARGETS = ("dev", "qa", "staging", "perf", "demo")
NOW = datetime(2026, 11, 22, 5, 0, 0, tzinfo=timezone.utc)


def configure(tmp, mysql_url=None, aws=None):
    """Point project.settings at throw-away databases (and AWS at the sandbox's server), then set Django up."""
    if aws is not None:
        os.environ.update(aws)
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/app.sqlite3"
    os.environ["DEVDB_DATABASE_URL"] = mysql_url or f"sqlite:///{tmp}/devdb.sqlite3"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ.setdefault("DEVDB_SOURCE_CLUSTER", "prod-aurora")
    os.environ.setdefault("DEVDB_HOSTED_ZONE_ID", "Z0123456789ABC")
    os.environ.setdefault("DEVDB_RECORD_NAME", "db.dev.example.com")
    os.environ.setdefault("DEVDB_INSTANCE_CLASS", "db.t4g.medium")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_mysql_database(url):
    import environ
    import MySQLdb

    cfg = environ.Env.db_url_config(url)
    conn = MySQLdb.connect(host=cfg["HOST"] or "127.0.0.1", port=int(cfg["PORT"] or 3306), user=cfg["USER"] or "root",
                           passwd=cfg["PASSWORD"] or "", connect_timeout=5)
    name = f"{cfg['NAME']}_{os.getpid()}"
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl(), name, cfg


def _postgres_admin(cfg):
    import psycopg

    return psycopg.connect(host=cfg["HOST"] or "127.0.0.1", port=int(cfg["PORT"] or 5432), user=cfg["USER"] or "postgres",
                           password=cfg["PASSWORD"] or "", dbname="postgres", autocommit=True, connect_timeout=5)


def create_postgres_database(url):
    import environ

    cfg = environ.Env.db_url_config(url)
    name = f"{cfg['NAME']}_{os.getpid()}"
    with _postgres_admin(cfg) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl(), name, cfg


def drop_postgres_database(cfg, name):
    with _postgres_admin(cfg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_mysql_database(cfg, name):
    import MySQLdb

    conn = MySQLdb.connect(host=cfg["HOST"] or "127.0.0.1", port=int(cfg["PORT"] or 3306), user=cfg["USER"] or "root",
                           passwd=cfg["PASSWORD"] or "", connect_timeout=5)
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def populate(start, stop):
    """CloneRecords number start..stop-1 (one per target and morning, going back in time), 4 events each."""
    from devdb.models import CloneEvent, CloneRecord

    rows = []
    for n in range(start, stop):
        target = TARGETS[n % len(TARGETS)]
        created = NOW - timedelta(days=n // len(TARGETS), minutes=n % len(TARGETS))
        ready, connected = created + timedelta(minutes=12), created + timedelta(minutes=13)
        newest = n < len(TARGETS)
        failed = n % 50 == 7 or n == len(TARGETS) - 1  # every 50th, and the newest of the last target (demo)
        if failed:
            newest = False
            ready = connected = None
        aborted = None if newest else (created + timedelta(minutes=20) if failed else connected + timedelta(days=1))
        deleted = None if newest or n % 37 == 0 else aborted + timedelta(minutes=5)
        state = "connected" if newest else ("aborted" if deleted is None else "deleted")
        name = f"{target}-{created:%Y%m%d}"
        rows.append(CloneRecord(
            target=target, cluster_id=name, instance_id=f"{name}-1", source=f"prod-{target}",
            state=state, state_since=deleted or aborted or connected,
            endpoint=f"{name}.cluster-abc123.us-east-1.rds.amazonaws.com",
            created_at=created, ready_at=ready, connected_at=connected, aborted_at=aborted, deleted_at=deleted,
            last_error="probe failed: timed out" if failed else "",
        ))
    CloneRecord.objects.bulk_create(rows, batch_size=1000)
    events = []
    for record in CloneRecord.objects.filter(events__isnull=True).only("id", "created_at", "ready_at", "connected_at", "aborted_at", "deleted_at"):
        if record.ready_at is None:  # failed: created -> aborted (-> deleted)
            steps = [("", "created", record.created_at), ("created", "aborted", record.aborted_at)]
        else:
            steps = [("", "created", record.created_at), ("created", "ready", record.ready_at),
                     ("ready", "connected", record.connected_at)]
        if record.ready_at and record.aborted_at:
            steps.append(("connected", "aborted", record.aborted_at))
        if record.deleted_at:
            steps.append(("aborted", "deleted", record.deleted_at))
        events.extend(CloneEvent(record_id=record.id, at=at, from_state=a, to_state=b, message=f"{a or '-'} -> {b}")
                      for a, b, at in steps[:4])
    CloneEvent.objects.bulk_create(events, batch_size=2000)
    return CloneRecord.objects.count(), CloneEvent.objects.count()


def measure(client, url, renders):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up: template loading and compilation
    if response.status_code != 200:
        raise SystemExit(f"bench: GET {url} returned {response.status_code}")
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in connections}
    for context in contexts.values():
        context.__enter__()
    response = client.get(url)
    for context in contexts.values():
        context.__exit__(None, None, None)
    queries = {alias: len(c.captured_queries) for alias, c in contexts.items()}
    slowest = max((q for c in contexts.values() for q in c.captured_queries), key=lambda q: float(q["time"]), default=None)
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    html = response.content.decode()
    table = html.split('id="result_list"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0] if 'id="result_list"' in html else None
    rows = table.count("<tr") if table is not None else None
    return {"url": url, "median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
            "queries": queries, "rows": rows, "bytes": len(response.content),
            "slowest_sql": (slowest["sql"][:160], slowest["time"]) if slowest else None}


def old_banner_failed():
    """The admin banner's "last run failed" query before issue 19: a correlated subquery per record."""
    from django.db.models import OuterRef, Subquery

    from devdb.models import CloneRecord, failed_filter

    daily = CloneRecord.objects.filter(branch="")
    latest = daily.filter(target=OuterRef("target")).order_by("-created_at", "-id").values("id")[:1]
    return {r.target: r.cluster_id for r in CloneRecord.objects.filter(failed_filter(), id=Subquery(latest))}


def new_banner_failed():
    from devdb.models import CloneRecord, newest_failed

    return {r.target: r.cluster_id for r in newest_failed()}


def old_status_failures():
    """status_devdb's failures of every target before issue 19."""
    from django.db.models import Exists, Q, Subquery

    from devdb.models import CloneRecord, failed_filter

    found = {}
    for target in TARGETS:
        records = CloneRecord.objects.filter(target=target)
        moved = records.exclude(connected_at=None)
        last_move = Subquery(moved.order_by("-connected_at").values("connected_at")[:1])
        found[target] = [r.cluster_id for r in records.filter(failed_filter()).filter(
            Q(created_at__gt=last_move) | ~Exists(moved)).order_by("-created_at", "-id")]
    return found


def new_status_failures():
    from devdb.models import recent_failures

    return {target: [r.cluster_id for r in recent_failures(target)] for target in TARGETS}


def compare_queries(args, alias, vendor, records):
    """Time the banner's and status_devdb's failure queries, now and (unless --no-old) as they were."""
    from django.db import connections

    def timed(function, repeat):
        function()  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000, result

    print(f"\n## control-database queries at {records} records ({vendor}, no ANALYZE), median ms\n", flush=True)
    print("| query | now (ms) | before issue 19 (ms) | same result |")
    print("|---|---:|---:|---|")
    pairs = [("admin banner: last run failed", new_banner_failed, old_banner_failed),
             ("status_devdb: failures, 5 targets", new_status_failures, old_status_failures)]
    for label, new, old in pairs:
        new_ms, new_result = timed(new, args.renders)
        if args.no_old:
            old_cell, same = "-", "-"
        else:
            started = time.perf_counter()
            old_result = old()  # once: it is slow
            old_cell, same = f"{(time.perf_counter() - started) * 1000:.0f}", "yes" if old_result == new_result else "NO"
        print(f"| {label} | {new_ms:.1f} | {old_cell} | {same} |", flush=True)
    connections[alias].close()


def sandbox():
    """The sandbox's moto server, seeded: the AWS side of status_devdb. Returns (server, environment)."""
    from devdb_sandbox.moto_server import MotoServer, seed

    server = MotoServer()
    zone = seed(server.client("rds"), server.client("route53"))
    env = server.env()
    env = {key: env[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}
    return server, {**env, "DEVDB_HOSTED_ZONE_ID": str(zone), "DEVDB_SOURCE_CLUSTER": "prod-aurora",
                    "DEVDB_LOG_LEVEL": "WARNING"}


STATUS_COMMANDS = (["status_devdb"], ["status_devdb", "--check"], ["status_devdb", "--json"])


def refresh_once():
    """One real refresh_devdb against the sandbox, so target `dev` has a live clone; its summary line."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("refresh_devdb", stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


def measure_status(args, alias):
    """status_devdb, --check and --json, whole commands (one target: it runs in this thread): per command,
    (median ms, min ms, control-DB queries per run, their ms per run)."""
    import gc
    import io

    from django.core.management import call_command
    from django.db import connections

    results = {}
    for command in STATUS_COMMANDS:
        def once():
            try:
                call_command(*command, stdout=io.StringIO(), stderr=io.StringIO())
            except SystemExit as exit:  # --check exits 1 on a problem: the bench's fabricated targets have some
                if exit.code not in (0, 1):
                    raise

        spent = []

        def timer(execute, sql, params, many, context):  # every control-DB query of the command
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent.append(time.perf_counter() - started)

        once()  # warm-up
        times = []
        for _ in range(args.renders):
            # Each run builds its own boto3 session and clients; collecting the previous run's (150-200 ms of
            # Python's GC) is left out of the timing, as timeit does: a manage.py process builds them once.
            gc.collect()
            started = time.perf_counter()
            with connections[alias].execute_wrapper(timer):
                once()
            times.append(time.perf_counter() - started)
        results[" ".join(command)] = (statistics.median(times) * 1000, min(times) * 1000, len(spent) / args.renders,
                                      sum(spent) * 1000 / args.renders)
    return results


def print_status(args, alias, rows):
    """rows: [(records, measure_status() result)]."""
    from django.db import connections

    print(f"\n## status_devdb ({connections[alias].vendor} control DB), AWS: the sandbox's moto server over HTTP, "
          f"median of {args.renders} runs\n")
    print("| command | records | median (ms) | min (ms) | control-DB queries per run | their time per run (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for command in STATUS_COMMANDS:
        name = " ".join(command)
        for records, result in rows:
            median, low, queries, db_ms = result[name]
            print(f"| `{name}` | {records} | {median:.1f} | {low:.1f} | {queries:g} | {db_ms:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.admin_changelist", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10000, help="CloneRecords to create (default 10000)")
    parser.add_argument("--renders", type=int, default=20, help="timed renders per page (default 20)")
    parser.add_argument("--mysql", nargs="?", const=DEFAULT_MYSQL_URL, metavar="URL",
                        help=f"control DB on MariaDB/MySQL (default URL {DEFAULT_MYSQL_URL}; a scratch database "
                             "named <name>_<pid> is created and dropped)")
    parser.add_argument("--postgresql", nargs="?", const=DEFAULT_POSTGRES_URL, metavar="URL",
                        help=f"control DB on PostgreSQL (default URL {DEFAULT_POSTGRES_URL}; a scratch database "
                             "named <name>_<pid> is created and dropped)")
    parser.add_argument("--no-old", action="store_true", help="do not time the replaced (slow) queries")
    parser.add_argument("--small", type=int, default=100,
                        help="also count the changelist's queries at this many records first (default 100; 0: skip)")
    parser.add_argument("--sql", action="store_true", help="also print the slowest query of each page")
    parser.add_argument("--no-status", action="store_true", help="do not time status_devdb (needs moto[server])")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="devdb-admin-bench-") as tmp:
        mysql, url, drop = None, None, None
        server, aws = sandbox() if not args.no_status else (None, None)
        if args.mysql:
            url, name, cfg = create_mysql_database(args.mysql)
            mysql, drop = (cfg, name), drop_mysql_database
        elif args.postgresql:
            url, name, cfg = create_postgres_database(args.postgresql)
            mysql, drop = (cfg, name), drop_postgres_database
        try:
            configure(tmp, url, aws)
            return run(args, mysql)
        finally:
            if server:
                server.stop()
            if mysql:
                from django.db import connections

                connections.close_all()
                drop(*mysql)


def run(args, mysql):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client
    from django.test.utils import setup_test_environment

    from devdb.conf import control_database
    from devdb.models import CloneRecord

    setup_test_environment()
    alias = control_database()
    vendor = connections[alias].vendor
    started = time.perf_counter()
    call_command("migrate", database="default", verbosity=0)
    call_command("migrate", database=alias, verbosity=0)
    small = min(args.small, args.records)
    populate(0, small)
    user = get_user_model().objects.create(username="bench", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    at_small = measure(client, "/admin/devdb/clonerecord/", 1) if small else None
    status = []
    if not args.no_status:
        print(f"bench: refresh_devdb against the sandbox: {refresh_once()}", flush=True)
        if small:
            status.append((small, measure_status(args, alias)))
    records, events = populate(small, args.records)
    print(f"bench: {records} CloneRecords and {events} CloneEvents in the control database "
          f"({vendor}{' ' + mysql[1] if mysql else ''}), built in {time.perf_counter() - started:.1f}s", flush=True)

    compare_queries(args, alias, vendor, records)
    some = CloneRecord.objects.order_by("id")[records // 2]
    base = "/admin/devdb/clonerecord/"
    pages = [
        ("changelist", base),
        ("filter state=aborted", f"{base}?state__exact=aborted"),
        ("filter target=qa", f"{base}?target__exact=qa"),
        ("search cluster id", f"{base}?q=qa-2025"),
        ("sorted by column 2, desc", f"{base}?o=-2"),
        ("page 50", f"{base}?p=50"),
        ("one record (change page + events)", f"{base}{some.pk}/change/"),
    ]
    results = [(label, measure(client, url, args.renders)) for label, url in pages]

    print(f"\n## admin at {records} records, control DB {vendor}, median of {args.renders} renders\n")
    print("| page | URL | median (ms) | min (ms) | queries (default + devdb) | rows shown |")
    print("|---|---|---:|---:|---:|---:|")
    for label, r in results:
        q = r["queries"]
        print(f"| {label} | `{r['url']}` | {r['median_ms']:.1f} | {r['min_ms']:.1f} | "
              f"{sum(q.values())} ({q.get('default', 0)} + {q.get(alias, 0)}) | {r['rows'] if r['rows'] is not None else '-'} |")
    if at_small:
        q, big = at_small["queries"], results[0][1]["queries"]
        print(f"\nchangelist queries at {small} records: {sum(q.values())} ({q.get('default', 0)} + {q.get(alias, 0)}); "
              f"at {records}: {sum(big.values())} ({big.get('default', 0)} + {big.get(alias, 0)})")
    if args.sql:
        print()
        for label, r in results:
            if r["slowest_sql"]:
                print(f"{label}: slowest query {r['slowest_sql'][1]}s: {r['slowest_sql'][0]}")
    if not args.no_status:
        status.append((records, measure_status(args, alias)))
        print_status(args, alias, status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
