"""`python -m devdb_sandbox`: the daily job, two simulated days, against a local moto server.

Day 1 creates and connects the first clone; day 2 connects a fresh one and cleans day 1's. Ends
with status_devdb. Everything lives in a temporary folder (SQLite control DB) and is thrown away.
The source is configured like production (own security groups, subnet and parameter groups, IAM auth,
port 3307). --realistic runs the same mornings with AWS's timing and rules (restores take a while,
deletes linger, DNS changes stay PENDING, some calls are throttled), so you watch the waits;
DEVDB_SANDBOX_SCALE stretches or shrinks every delay. --engine postgresql seeds an Aurora PostgreSQL source.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .moto_server import running, seed

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # python -m devdb_sandbox serve: keep a sandbox running for a shell (serve.py)
        from .serve import main as serve

        return serve(argv[1:])
    if argv[:1] == ["at"]:  # python -m devdb_sandbox at WHEN COMMAND...: a command on another day (days.py)
        from .days import main as at

        return at(argv[1:])
    if not (ROOT / "manage.py").is_file():
        sys.exit("python -m devdb_sandbox: the simulated mornings run the repository's example project; from your "
                 "own project, use `python -m devdb_sandbox serve` (README, \"Quickstart: your project against the sandbox\")")
    parser = argparse.ArgumentParser(prog="python -m devdb_sandbox", description=__doc__.splitlines()[0],
                                     epilog="`python -m devdb_sandbox serve` keeps a sandbox running instead (see --help "
                                            "there); `python -m devdb_sandbox at WHEN COMMAND...` runs a command on another day.")
    parser.add_argument("--days", type=int, default=2, help="simulated mornings to run (default 2)")
    parser.add_argument("--realistic", action="store_true",
                        help="AWS's timing and rules: statuses take seconds to change, some calls are throttled")
    parser.add_argument("--engine", choices=("mysql", "postgresql"), default="mysql",
                        help="the source cluster's engine: Aurora MySQL (default) or Aurora PostgreSQL")
    args = parser.parse_args(argv)
    engine = f"aurora-{args.engine}"

    first = datetime.now(timezone.utc).replace(hour=5, minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="devdb-sandbox-") as tmp, running(realistic=args.realistic) as server:
        zone_id = seed(server.client("rds"), server.client("route53"), engine=engine)
        mode = "realistic mode" if args.realistic else "instant mode"
        print(f"sandbox: moto server at {server.url} ({mode}), source cluster prod-aurora ({engine}, port "
              f"{zone_id.source['Port']}), hosted zone {zone_id} (dev.example.com)", flush=True)
        # Short polls (read by project/settings.py): waits of a few seconds are not stretched by 30-second polls.
        polls = {"DEVDB_POLL_INITIAL": "1", "DEVDB_POLL_MAX": "2"}

        def manage(*command, now=None):
            env = server.project_env(zone_id, tmp, now, DEVDB_RECORD_TTL="5", DEVDB_CLEAN_GRACE="2", **polls)
            print(f"\n$ python manage.py {' '.join(command)}" + (f"    # simulated time {now}" if now else ""), flush=True)
            result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env)
            if result.returncode:
                sys.exit(f"sandbox: manage.py {command[0]} exited {result.returncode}")

        manage("migrate", "--verbosity", "0")
        manage("migrate", "--database", "devdb", "--verbosity", "0")
        manage("seed_shop")  # the example app's customers: what MASKING's rules are about
        for day in range(args.days):
            now = (first + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")
            manage("refresh_devdb", now=now)
            manage("status_devdb", now=now)
        print("\nsandbox: done; everything it made is thrown away.")


if __name__ == "__main__":
    main()
