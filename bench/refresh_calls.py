"""AWS calls, wall time and peak memory of `manage.py refresh_devdb`, day after day, in accounts of
N unrelated clusters; and the naive lookup (every instance + ListTagsForResource each) for comparison.

    .venv/bin/python -m bench.refresh_calls [--sizes 0,100,1000] [--days 3] [--json results.json]

For each N a fresh moto standalone server is started and seeded with the source cluster, a hosted
zone and N unrelated Aurora clusters with one instance each. Then `manage.py refresh_devdb` runs as
a subprocess once per simulated morning (DEVDB_CLEAN_GRACE=0; the clock is moved with the sandbox's
time-machine hook). Day 1 makes the first clone; days 2+ are the steady state (clone, connect, abort
and delete yesterday's clone).

What is measured, per refresh:
- AWS calls: every HTTP request the moto server received while the refresh ran, from moto's request
  recorder (reset-recording, start-recording, run, stop-recording, download-recording), named by
  operation (Query `Action=`, JSON `X-Amz-Target`, Route53 REST routes from botocore's model).
  Retries would count as separate requests: this is what AWS would bill and throttle.
- wall: time.perf_counter() around the whole subprocess (interpreter start, Django setup, imports,
  the job, exit).
- peak RSS: the maximum resident set size of the manage.py process, from GNU time's %M
  (wait4 rusage of that one child; refresh_devdb starts no processes of its own). Without
  /usr/bin/time a tiny launcher reports its own ru_maxrss at exit instead.

Then, on the same account after the last morning, three lookups of the target's clones:
- naive: DescribeDBInstances without a paginator (one page), then ListTagsForResource per instance,
  as aurora-echo does; it sees only the instances of the first page (moto pages at 100, like AWS).
- naive, paginated: the same with a paginator: it sees everything, at one call per instance.
- django-devdb: Gateway.tagged_cluster_ids() + Gateway.clusters(): GetResources + filtered describes.
"""

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
FIRST_MORNING = datetime(2026, 11, 22, 5, 0, 0, tzinfo=timezone.utc)
TARGET = "dev"
GNU_TIME = shutil.which("time", path="/usr/bin") or None
MAXRSS_LAUNCHER = (
    "import resource, runpy, sys\n"
    "out = sys.argv.pop(1)\n"
    "try:\n"
    "    sys.argv = sys.argv[1:]\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "finally:\n"
    "    open(out, 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
)


# --- what the moto server received ----------------------------------------------------------------

_REST_ROUTES = {}


def _rest_routes(service):
    """(method, compiled path regex, operation) for a REST service, from botocore's service model."""
    if service not in _REST_ROUTES:
        import botocore.session

        model = botocore.session.get_session().get_service_model(service)
        routes = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            path = http["requestUri"].split("?", 1)[0].rstrip("/")
            pattern = re.sub(r"\{[^}]+\+\}", ".+", path)
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
            # Literal segments first, so /hostedzone/X/rrset beats /hostedzone/{Id}.
            routes.append((http["method"], re.compile(f"^{pattern}/?$"), name, -path.count("{")))
        routes.sort(key=lambda r: r[3])
        _REST_ROUTES[service] = routes
    return _REST_ROUTES[service]


def operation_of(entry):
    """The AWS operation name of one recorded request."""
    headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
    if "x-amz-target" in headers:  # JSON protocol (Resource Groups Tagging API)
        return headers["x-amz-target"].rsplit(".", 1)[-1]
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    action = parse_qs(body).get("Action") if "Action=" in body else None
    if action:  # Query protocol (RDS)
        return action[0]
    match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = match.group(1) if match else "route53"
    path = urlsplit(entry.get("url", "")).path
    for method, regex, name, _ in _rest_routes(service):
        if method == entry.get("method") and regex.match(path):
            return name
    return f"{entry.get('method')} {path}"


def recorded_operations(server):
    text = server.recorder("download-recording")
    return [operation_of(json.loads(line)) for line in text.splitlines() if line.strip()]


# --- one subprocess, measured ---------------------------------------------------------------------

def measured(command, env, log):
    """Run a manage.py command; return (exit code, wall seconds, peak RSS in MiB, its output)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as rss_file:
        rss_path = rss_file.name
    if GNU_TIME:
        argv = [GNU_TIME, "-f", "%M", "-o", rss_path, sys.executable, "manage.py", *command]
    else:
        argv = [sys.executable, "-c", MAXRSS_LAUNCHER, rss_path, "manage.py", *command]
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    log.write(result.stdout)
    log.flush()
    try:
        text = Path(rss_path).read_text().strip().splitlines()
        kib = int(text[-1]) if text else 0
    finally:
        os.unlink(rss_path)
    return result.returncode, wall, kib / 1024, result.stdout.decode(errors="replace")


# --- lookups in the bench process -----------------------------------------------------------------

def _ours(tags):
    return tags.get("devdb:managed-by") == "django-devdb" and tags.get("devdb:target") == TARGET


def naive_lookup(rds, paginate=False):
    """aurora-echo style: list instances, then ListTagsForResource for each. Returns cluster ids found."""
    if paginate:
        pages = rds.get_paginator("describe_db_instances").paginate()
        instances = [i for page in pages for i in page["DBInstances"]]
    else:
        instances = rds.describe_db_instances()["DBInstances"]
    found = set()
    for instance in instances:
        tag_list = rds.list_tags_for_resource(ResourceName=instance["DBInstanceArn"])["TagList"]
        if _ours({t["Key"]: t["Value"] for t in tag_list}):
            found.add(instance["DBClusterIdentifier"])
    return found, len(instances)


def devdb_lookup(gateway):
    ids = gateway.tagged_cluster_ids(TARGET)
    return {c.id for c in gateway.clusters(ids) if _ours(c.tags)}, None


def compare_lookups(server, gateway):
    rows = []
    rds = server.client("rds")
    for label, lookup in (
        ("naive (1 page + ListTagsForResource each)", lambda: naive_lookup(rds)),
        ("naive, paginated", lambda: naive_lookup(rds, paginate=True)),
        ("django-devdb (GetResources + filtered describes)", lambda: devdb_lookup(gateway)),
    ):
        server.recorder("reset-recording")
        server.recorder("start-recording")
        started = time.perf_counter()
        found, listed = lookup()
        seconds = time.perf_counter() - started
        server.recorder("stop-recording")
        operations = recorded_operations(server)
        rows.append({"lookup": label, "calls": len(operations), "seconds": seconds, "found": sorted(found),
                     "instances_listed": listed, "operations": dict(Counter(operations))})
    return rows


# --- the run --------------------------------------------------------------------------------------

def bench_size(n, days, workdir, log):
    from devdb_sandbox.moto_server import CREDENTIALS, running, seed

    result = {"unrelated": n, "refreshes": []}
    with running(log=log) as server:
        server.recorder("stop-recording")  # recording is on from start (MOTO_ENABLE_RECORDING)
        started = time.perf_counter()
        zone_id = seed(server.client("rds"), server.client("route53"), unrelated=n)
        result["seed_seconds"] = time.perf_counter() - started
        tmp = workdir / f"n{n}"
        tmp.mkdir()
        base_env = {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{tmp}/app.sqlite3",
            "DEVDB_DATABASE_URL": f"sqlite:///{tmp}/devdb.sqlite3",
            "DEVDB_TARGET": TARGET,
            "DEVDB_SOURCE_CLUSTER": "prod-aurora",
            "DEVDB_HOSTED_ZONE_ID": zone_id,
            "DEVDB_RECORD_NAME": "db.dev.example.com",
            "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
            "DEVDB_RECORD_TTL": "5",
            "DEVDB_CLEAN_GRACE": "0",
            "DEVDB_LOG_LEVEL": "WARNING",
        }
        for database in ("default", "devdb"):
            subprocess.run([sys.executable, "manage.py", "migrate", "--database", database, "--verbosity", "0"],
                           cwd=ROOT, env={**server.env(), **base_env}, check=True, stdout=log, stderr=subprocess.STDOUT)
        code, wall, rss, _ = measured(["version"], {**server.env(), **base_env}, log)
        result["floor"] = {"command": "manage.py version", "exit": code, "wall": wall, "peak_rss_mib": rss}

        for day in range(days):
            now = FIRST_MORNING + timedelta(days=day)
            env = {**server.env(now.strftime("%Y-%m-%dT%H:%M:%SZ")), **base_env}
            log.write(f"\n=== N={n} day {day + 1} {now:%Y-%m-%d} refresh_devdb ===\n".encode())
            log.flush()
            server.recorder("reset-recording")
            server.recorder("start-recording")
            code, wall, rss, output = measured(["refresh_devdb"], env, log)
            server.recorder("stop-recording")
            operations = recorded_operations(server)
            result["refreshes"].append({
                "day": day + 1, "date": f"{now:%Y-%m-%d}", "exit": code, "calls": len(operations),
                "operations": dict(sorted(Counter(operations).items())), "wall": wall, "peak_rss_mib": rss,
                "summary": (output.strip().splitlines() or [""])[-1],
            })
            print(f"  N={n:>5} day {day + 1}: exit {code}, {len(operations)} AWS calls, "
                  f"{wall:.2f}s, {rss:.0f} MiB", flush=True)

        saved = {k: os.environ.get(k) for k in (*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_PROFILE")}
        os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": server.url})
        os.environ.pop("AWS_PROFILE", None)
        try:
            from devdb.aws import Gateway

            result["lookups"] = compare_lookups(server, Gateway(max_attempts=3))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        result["instances_in_account"] = result["lookups"][1]["instances_listed"]
    return result


def print_tables(results, days):
    print("\n## refresh_devdb per simulated morning (day 1 = first clone; days 2+ = steady state)\n")
    print("| unrelated clusters (+1 instance each) | day | exit | AWS calls | wall (s) | peak RSS (MiB) | refresh_devdb said |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        for f in r["refreshes"]:
            print(f"| {r['unrelated']} | {f['day']} | {f['exit']} | {f['calls']} | {f['wall']:.2f} | {f['peak_rss_mib']:.0f} "
                  f"| {f['summary']} |")
    print("\n## steady state (days 2+)\n")
    print("| unrelated clusters | AWS calls per refresh | median wall (s) | max peak RSS (MiB) | process floor: `manage.py version` wall (s) / RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for r in results:
        steady = r["refreshes"][1:] or r["refreshes"]
        calls = sorted({f["calls"] for f in steady})
        print(f"| {r['unrelated']} | {'/'.join(map(str, calls))} | {statistics.median(f['wall'] for f in steady):.2f} "
              f"| {max(f['peak_rss_mib'] for f in steady):.0f} | {r['floor']['wall']:.2f} / {r['floor']['peak_rss_mib']:.0f} |")
    print("\n## calls by operation, last steady-state refresh\n")
    names = sorted({op for r in results for op in r["refreshes"][-1]["operations"]})
    print("| operation | " + " | ".join(f"N={r['unrelated']}" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for name in names:
        print(f"| {name} | " + " | ".join(str(r["refreshes"][-1]["operations"].get(name, 0)) for r in results) + " |")
    print(f"\n## finding the target's clones after day {days}, same accounts\n")
    print("| unrelated clusters | instances in account | lookup | AWS calls | seconds | clones found |")
    print("|---:|---:|---|---:|---:|---|")
    for r in results:
        truth = set(r["lookups"][2]["found"])
        for row in r["lookups"]:
            found = set(row["found"])
            seen = f"{len(found)} of {len(truth)}" + ("" if found == truth else " (MISSES " + ", ".join(sorted(truth - found)) + ")")
            print(f"| {r['unrelated']} | {r['instances_in_account']} | {row['lookup']} | {row['calls']} | "
                  f"{row['seconds']:.2f} | {seen} |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.refresh_calls", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,100,1000", help="unrelated clusters to seed, comma-separated (default 0,100,1000)")
    parser.add_argument("--days", type=int, default=3, help="simulated mornings per size (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--log", metavar="PATH", help="keep the moto server's and the commands' output here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.days < 1 or any(n < 0 for n in sizes):
        parser.error("--days must be >= 1 and --sizes non-negative")

    with tempfile.TemporaryDirectory(prefix="devdb-bench-") as tmp:
        workdir = Path(tmp)
        # Keep moto's recording out of the working tree, and let it hold more than 1,000 instances
        # (it takes an automated snapshot of each new instance and caps snapshots at 1,000 by default).
        os.environ["MOTO_RECORDER_FILEPATH"] = str(workdir / "moto_recording.jsonl")
        os.environ["MOTO_RDS_SNAPSHOT_LIMIT"] = "1000000"
        log_path = Path(args.log) if args.log else workdir / "bench.log"
        print(f"bench: sizes {sizes}, {args.days} mornings each; measuring with "
              f"{'GNU time (%M)' if GNU_TIME else 'a ru_maxrss launcher'}; log {log_path}", flush=True)
        results = []
        with open(log_path, "wb") as log:
            for n in sizes:
                result = bench_size(n, args.days, workdir, log)
                print(f"  N={n:>5}: seeded in {result['seed_seconds']:.1f}s", flush=True)
                results.append(result)
        failed = [f for r in results for f in r["refreshes"] if f["exit"]]
        if failed:
            print(f"bench: {len(failed)} refresh(es) failed; see the log", file=sys.stderr)
            if not args.log:
                sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
        print_tables(results, args.days)
        meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "python": sys.version.split()[0],
                "cpus": os.cpu_count(), "rss_method": "GNU time %M" if GNU_TIME else "ru_maxrss launcher"}
        if args.json:
            Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
