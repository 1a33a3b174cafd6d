"""The steady-state refresh against the sandbox's realistic mode: AWS calls (polls included), wall time,
and poll lag (how far behind AWS's own readiness the name moved), per poll setting, beside instant moto.

    .venv/bin/python -m bench.realistic [--days 3] [--polls 0.2/1,5/30] [--scale 1] [--json results.json]

For each poll setting (POLL_INITIAL/POLL_MAX; the example project's lowered 0.2/1 and the defaults 5/30)
a fresh realistic sandbox server is started (delays at DEVDB_SANDBOX_SCALE=--scale, 1 = the sandbox's
real-AWS-like seconds; a tenth of the calls throttled, fixed seed) and seeded with the production-like
source; then, as in bench.refresh_calls, `manage.py refresh_devdb` runs once per simulated morning.
The same mornings on the instant (non-realistic) server give the baseline.

What is measured, per refresh:
- AWS calls: every request moto answered (its request recorder, named by operation, polls included)
  plus the calls the sandbox throttled (from its history): retries count, as AWS bills and throttles them.
- wall: the whole manage.py subprocess.
- poll lag, from the sandbox's history (GET /moto-api/devdb/history), which knows when AWS's side became
  ready (the time a status change was due, not when a poll noticed it):
    cluster: today's clone `available` -> CreateDBInstance of its writer;
    writer:  the writer `available` -> the UPSERT of the name (ChangeResourceRecordSets);
    name:    cluster + writer: how far behind a job that polled continuously the name moved;
    DNS:     the change INSYNC -> the run's next change (tagging the clone `connected`);
    delete:  yesterday's writer `deleting` -> DeleteDBCluster of its cluster.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.refresh_calls import FIRST_MORNING, measured, recorded_operations

SANDBOX = {"throttle": 0.1, "seed": 20261122}


def lags(history, clone, yesterday, since):
    """Poll lags (seconds) of one morning from the sandbox's history entries at or after `since`."""
    events = [e for e in history if e["at"] >= since]

    def first(resource, status, kind=None):
        return next((e["at"] for e in events if e["resource"] == resource and e["status"] == status
                     and (kind is None or e["type"] == kind)), None)

    cluster_ready = first(clone, "available", "cluster")
    writer_asked = first(f"{clone}-1", "creating", "instance")
    writer_ready = first(f"{clone}-1", "available", "instance")
    change = next((e for e in events if e["type"] == "change" and e["status"] == "PENDING"), None)
    insync = next((e["at"] for e in events if e["type"] == "change" and e["status"] == "INSYNC"
                   and e["resource"] == change["resource"]), None) if change else None
    after_insync = next((e["at"] for e in events if e["type"] == "request" and insync and e["at"] >= insync), None)
    result = {
        "cluster": _minus(writer_asked, cluster_ready),
        "writer": _minus(change and change["at"], writer_ready),
        "dns": _minus(after_insync, insync),
        "delete": _minus(first(yesterday, "deleting", "cluster"), first(f"{yesterday}-1", "deleting", "instance"))
        if yesterday else None,
        "ready_after": _minus(writer_ready, since),  # AWS's own time from the run's start to a usable clone
    }
    result["name"] = (None if result["cluster"] is None or result["writer"] is None
                      else round(result["cluster"] + result["writer"], 2))
    return result


def _minus(a, b):
    return None if a is None or b is None else round(a - b, 2)


def bench_setting(label, realistic, polls, days, scale, workdir, log):
    from devdb_sandbox.moto_server import running, seed

    env_server = {"DEVDB_SANDBOX_SCALE": str(scale)}
    result = {"setting": label, "realistic": realistic, "polls": polls, "refreshes": []}
    with running(log=log, realistic=realistic, env=env_server) as server:
        server.recorder("stop-recording")
        zone_id = seed(server.client("rds"), server.client("route53"))
        if realistic:
            server.configure(**SANDBOX)
        tmp = workdir / label.replace("/", "-").replace(" ", "-")
        tmp.mkdir()
        base_env = {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{tmp}/app.sqlite3",
            "DEVDB_DATABASE_URL": f"sqlite:///{tmp}/devdb.sqlite3",
            "DEVDB_TARGET": "dev",
            "DEVDB_SOURCE_CLUSTER": "prod-aurora",
            "DEVDB_HOSTED_ZONE_ID": zone_id,
            "DEVDB_RECORD_NAME": "db.dev.example.com",
            "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
            "DEVDB_RECORD_TTL": "5",
            "DEVDB_CLEAN_GRACE": "0",
            "DEVDB_LOG_LEVEL": "WARNING",
        }
        if polls:
            base_env["DEVDB_POLL_INITIAL"], base_env["DEVDB_POLL_MAX"] = polls
        for database in ("default", "devdb"):
            code, _, _, output = measured(["migrate", "--database", database, "--verbosity", "0"],
                                          {**server.env(), **base_env}, log)
            if code:
                raise SystemExit(f"bench: migrate {database} exited {code}\n{output}")
        for day in range(days):
            now = FIRST_MORNING + timedelta(days=day)
            clone = f"dev-{now:%Y%m%d}"
            yesterday = f"dev-{now - timedelta(days=1):%Y%m%d}" if day else None
            log.write(f"\n=== {label} day {day + 1} {now:%Y-%m-%d} refresh_devdb ===\n".encode())
            log.flush()
            server.recorder("reset-recording")
            server.recorder("start-recording")
            since = time.time()
            code, wall, _, output = measured(["refresh_devdb"], {**server.env(now.strftime("%Y-%m-%dT%H:%M:%SZ")),
                                                                  **base_env}, log)
            server.recorder("stop-recording")
            operations = Counter(recorded_operations(server))
            history = server.history() if realistic else []
            throttled = sum(1 for e in history if e["type"] == "throttled" and e["at"] >= since)
            refresh = {
                "day": day + 1, "exit": code, "calls": sum(operations.values()) + throttled, "throttled": throttled,
                "operations": dict(sorted(operations.items())), "wall": round(wall, 2),
                "lag": lags(history, clone, yesterday, since) if realistic else None,
                "summary": (output.strip().splitlines() or [""])[-1],
            }
            result["refreshes"].append(refresh)
            lag = refresh["lag"] or {}
            print(f"  {label:<28} day {day + 1}: exit {code}, {refresh['calls']} calls ({throttled} throttled), "
                  f"{wall:.1f}s, name behind readiness {lag.get('name')}s", flush=True)
            # The next morning is a day later: whatever AWS still had pending is done by then.
            if realistic:
                server.settle()
    return result


def _median(values):
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.2f}" if values else "–"


def print_tables(results, scale):
    print(f"\n## steady-state refresh_devdb (days 2+), realistic mode at scale {scale} vs instant moto\n")
    print("| server | POLL_INITIAL / POLL_MAX | AWS calls (throttled) | median wall (s) | AWS ready after (s) "
          "| poll lag: cluster → writer asked (s) | writer → name moved (s) | **name behind readiness (s)** "
          "| INSYNC → noticed (s) | writer deleting → cluster deleted (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        steady = r["refreshes"][1:] or r["refreshes"]
        calls = ", ".join(f"{f['calls']} ({f['throttled']})" for f in steady)
        polls = " / ".join(r["polls"]) if r["polls"] else "– (nothing to wait for)"
        if r["realistic"]:
            lag = {k: _median(f["lag"][k] for f in steady) for k in ("ready_after", "cluster", "writer", "name", "dns", "delete")}
            cells = [lag["ready_after"], lag["cluster"], lag["writer"], f"**{lag['name']}**", lag["dns"], lag["delete"]]
        else:
            cells = ["0 (instant)"] + ["–"] * 5
        print(f"| {'realistic' if r['realistic'] else 'instant moto'} | {polls} | {calls} | "
              f"{_median(f['wall'] for f in steady)} | " + " | ".join(cells) + " |")
    print("\n## calls by operation, last steady-state refresh (served requests; throttled ones apart)\n")
    names = sorted({op for r in results for op in r["refreshes"][-1]["operations"]})
    heads = [f"realistic {'/'.join(r['polls'])}" if r["realistic"] else "instant moto"
             for r in results]
    print("| operation | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(results))
    for name in names:
        print(f"| {name} | " + " | ".join(str(r["refreshes"][-1]["operations"].get(name, 0)) for r in results) + " |")
    print("| throttled (retried) | " + " | ".join(str(r["refreshes"][-1]["throttled"]) for r in results) + " |")
    print("| **total** | " + " | ".join(f"**{r['refreshes'][-1]['calls']}**" for r in results) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.realistic", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3, help="simulated mornings per setting (default 3; day 1 is the first clone)")
    parser.add_argument("--polls", default="0.2/1,5/30",
                        help="POLL_INITIAL/POLL_MAX pairs to compare, comma-separated (default 0.2/1,5/30)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="DEVDB_SANDBOX_SCALE: the realistic delays' factor (default 1, the sandbox's seconds)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--log", metavar="PATH", help="keep the servers' and the commands' output here")
    args = parser.parse_args(argv)
    polls = [tuple(p.split("/")) for p in args.polls.split(",") if p.strip()]
    if args.days < 2 or any(len(p) != 2 for p in polls):
        parser.error("--days must be >= 2 (day 1 is not the steady state) and --polls pairs like 0.2/1")

    with tempfile.TemporaryDirectory(prefix="devdb-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["MOTO_RECORDER_FILEPATH"] = str(workdir / "moto_recording.jsonl")
        log_path = Path(args.log) if args.log else workdir / "bench.log"
        print(f"bench: realistic mode at scale {args.scale}, polls {args.polls}, {args.days} mornings each; "
              f"log {log_path}", flush=True)
        results = []
        with open(log_path, "wb") as log:
            results.append(bench_setting("instant moto", False, None, args.days, args.scale, workdir, log))
            for pair in polls:
                results.append(bench_setting(f"realistic {'/'.join(pair)}", True, pair, args.days, args.scale, workdir, log))
        failed = [f for r in results for f in r["refreshes"] if f["exit"]]
        if failed:
            print(f"bench: {len(failed)} refresh(es) failed; see the log", file=sys.stderr)
            if not args.log:
                sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
        print_tables(results, args.scale)
        if args.json:
            meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "python": sys.version.split()[0],
                    "cpus": os.cpu_count(), "scale": args.scale, "sandbox": SANDBOX}
            Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
