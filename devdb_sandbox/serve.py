"""`python -m devdb_sandbox serve`: a seeded moto server that stays up until Ctrl-C, for your own project.

It seeds an Aurora MySQL source `prod-aurora` and the hosted zone `dev.example.com` (its id is the same
at every start), writes `env.sh` with the exports that point a Django project's django-devdb at it (AWS
endpoint and test credentials, DEVDB_SOURCE_CLUSTER, DEVDB_HOSTED_ZONE_ID, DEVDB_RECORD_NAME,
DEVDB_INSTANCE_CLASS and short waits) and prints them. It sets no DJANGO_SETTINGS_MODULE and no database:
your project keeps its own. `--example` serves the repository's example project instead (its SQLite
databases in --dir, the example shop's customers, an admin user `admin` / `sandbox`).
"""

import argparse
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from .moto_server import running, seed

ROOT = Path(__file__).resolve().parent.parent
ADMIN_USER, ADMIN_PASSWORD = "admin", "sandbox"
# What a shell needs to point django-devdb at the sandbox (the rest is in the environment already).
EXPORTED = (
    "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
    "DEVDB_SOURCE_CLUSTER", "DEVDB_HOSTED_ZONE_ID", "DEVDB_RECORD_NAME", "DEVDB_INSTANCE_CLASS",
    "DEVDB_RECORD_TTL", "DEVDB_CLEAN_GRACE", "DEVDB_POLL_INITIAL", "DEVDB_POLL_MAX",
)
# --example: the example project's settings module and databases too.
EXAMPLE_EXPORTED = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEVDB_DATABASE_URL")


def exports(env, example=False):
    """Shell lines that reproduce env's sandbox variables (AWS_PROFILE would override the test credentials)."""
    keys = EXPORTED + (EXAMPLE_EXPORTED if example else ())
    return ["unset AWS_PROFILE"] + [f"export {key}={shlex.quote(env[key])}" for key in keys]


def example_project():
    """The repository's example project (manage.py beside the package), or None in an installed package."""
    return ROOT if (ROOT / "manage.py").is_file() and (ROOT / "project" / "settings.py").is_file() else None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devdb_sandbox serve", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="moto server port (default: a free one)")
    parser.add_argument("--dir", type=Path, help="keep env.sh (and with --example the SQLite databases) here "
                                                 "(default: a temporary folder)")
    parser.add_argument("--realistic", action="store_true",
                        help="AWS's timing and rules: statuses take seconds to change, some calls are throttled")
    parser.add_argument("--example", action="store_true",
                        help="serve the repository's example project (its databases, shop and admin user) too")
    args = parser.parse_args(argv)
    if args.example and example_project() is None:
        parser.error("--example needs the repository's example project (manage.py, project/), which an installed "
                     "package does not have: run it from a checkout, or serve your own project without --example")
    # SIGTERM (docker stop, kill) ends like Ctrl-C: the moto server is stopped and the temporary folder removed.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.dir:
            args.dir.mkdir(parents=True, exist_ok=True)
            serve(args.dir.resolve(), args.port, args.realistic, args.example)
        else:
            with tempfile.TemporaryDirectory(prefix="devdb-sandbox-") as tmp:
                serve(Path(tmp), args.port, args.realistic, args.example)
    except KeyboardInterrupt:
        pass
    print("sandbox: stopped.", flush=True)


def _interrupt(*_):
    raise KeyboardInterrupt


def serve(folder, port, realistic=False, example=False):
    with running(port=port or None, realistic=realistic) as server:
        zone_id = seed(server.client("rds"), server.client("route53"))
        env = server.project_env(zone_id, folder, DEVDB_RECORD_TTL="5", DEVDB_CLEAN_GRACE="2",
                                 DEVDB_POLL_INITIAL="0.2", DEVDB_POLL_MAX="1")
        if example:
            for command in (("migrate",), ("migrate", "--database", "devdb"), ("seed_shop",)):
                subprocess.run([sys.executable, "manage.py", *command, "--verbosity", "0"], cwd=ROOT, env=env,
                               check=True, stdout=subprocess.DEVNULL)
            # Fails harmlessly when a kept --dir has the user already.
            subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", ADMIN_USER,
                            "--email", "admin@example.com"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
        lines = exports(env, example)
        (folder / "env.sh").write_text("\n".join(lines) + "\n")
        where = f"; control database {folder / 'devdb.sqlite3'}" if example else ""
        print(f"sandbox: moto server at {server.url}, source cluster prod-aurora, hosted zone {zone_id} "
              f"(dev.example.com){where}", flush=True)
        print("sandbox: in another shell, in your project, export this (or `source "
              f"{shlex.quote(str(folder / 'env.sh'))}`):\n", flush=True)
        print("\n".join(lines), flush=True)
        admin = f" ({ADMIN_USER} / {ADMIN_PASSWORD})" if example else ""
        print(f"\nthen e.g. `python manage.py refresh_devdb`, `python manage.py status_devdb`, and "
              f"`python manage.py runserver` for the admin at http://127.0.0.1:8000/admin/{admin}; "
              f"`python -m devdb_sandbox at +1d python manage.py refresh_devdb` is tomorrow morning."
              f"\nsandbox: ready; Ctrl-C stops it.", flush=True)
        if server.process.wait():
            sys.exit(f"sandbox: the moto server exited {server.process.returncode}")
