"""`python -m sandbox serve`: a seeded moto server and a control database that stay up until Ctrl-C.

It prints the environment to export in another shell; there every command runs against the sandbox
(`python manage.py refresh_devdb`, `status_devdb`, `connect_devdb --to ...`) and `runserver` shows
the admin (user `admin`, password `sandbox`). The SQLite databases and an `env.sh` with the same
exports live in --dir (kept) or in a temporary folder (thrown away at the end).
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from .moto_server import running, seed

ROOT = Path(__file__).resolve().parent.parent
ADMIN_USER, ADMIN_PASSWORD = "admin", "sandbox"
# What a shell needs to talk to the sandbox with the example project (the rest is in the environment already).
EXPORTED = (
    "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL", "DEVDB_DATABASE_URL", "DEVDB_SOURCE_CLUSTER", "DEVDB_HOSTED_ZONE_ID", "DEVDB_RECORD_NAME",
    "DEVDB_INSTANCE_CLASS", "DEVDB_RECORD_TTL", "DEVDB_CLEAN_GRACE", "DEVDB_POLL_INITIAL", "DEVDB_POLL_MAX",
)


def exports(env):
    """Shell lines that reproduce env's sandbox variables (AWS_PROFILE would override the test credentials)."""
    return ["unset AWS_PROFILE"] + [f"export {key}={shlex.quote(env[key])}" for key in EXPORTED]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox serve", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="moto server port (default: a free one)")
    parser.add_argument("--dir", type=Path, help="keep the SQLite databases and env.sh here (default: a temporary folder)")
    parser.add_argument("--realistic", action="store_true",
                        help="AWS's timing and rules: statuses take seconds to change, some calls are throttled")
    args = parser.parse_args(argv)
    # SIGTERM (docker stop, kill) ends like Ctrl-C: the moto server is stopped and the temporary folder removed.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.dir:
            args.dir.mkdir(parents=True, exist_ok=True)
            serve(args.dir.resolve(), args.port, args.realistic)
        else:
            with tempfile.TemporaryDirectory(prefix="devdb-sandbox-") as tmp:
                serve(Path(tmp), args.port, args.realistic)
    except KeyboardInterrupt:
        pass
    print("sandbox: stopped.", flush=True)


def _interrupt(*_):
    raise KeyboardInterrupt


def serve(folder, port, realistic=False):
    with running(port=port or None, realistic=realistic) as server:
        zone_id = seed(server.client("rds"), server.client("route53"))
        env = server.project_env(zone_id, folder, DEVDB_RECORD_TTL="5", DEVDB_CLEAN_GRACE="2",
                                 DEVDB_POLL_INITIAL="0.2", DEVDB_POLL_MAX="1")
        for command in (("migrate",), ("migrate", "--database", "devdb"), ("seed_shop",)):
            subprocess.run([sys.executable, "manage.py", *command, "--verbosity", "0"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
        # Fails harmlessly when a kept --dir has the user already.
        subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", ADMIN_USER,
                        "--email", "admin@example.com"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
        lines = exports(env)
        (folder / "env.sh").write_text("\n".join(lines) + "\n")
        print(f"sandbox: moto server at {server.url}, source cluster prod-aurora, hosted zone {zone_id} "
              f"(dev.example.com); control database {folder / 'devdb.sqlite3'}", flush=True)
        print("sandbox: in another shell, from this folder, export this (or `source "
              f"{shlex.quote(str(folder / 'env.sh'))}`):\n", flush=True)
        print("\n".join(lines), flush=True)
        print(f"\nthen e.g. `python manage.py refresh_devdb`, `python manage.py status_devdb`, and "
              f"`python manage.py runserver` for the admin at http://127.0.0.1:8000/admin/ "
              f"({ADMIN_USER} / {ADMIN_PASSWORD}).\nsandbox: ready; Ctrl-C stops it.", flush=True)
        if server.process.wait():
            sys.exit(f"sandbox: the moto server exited {server.process.returncode}")
