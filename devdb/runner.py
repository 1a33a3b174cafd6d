"""Run one engine step for each selected target: validated settings, one gateway, a lease each.

Targets run concurrently (threads; the work is waiting on AWS). One target's failure does not
stop the others; the run's exit status is 1 if any failed, 3 if the only failures were locks.
"""

import hashlib
from concurrent.futures import ThreadPoolExecutor

from django.db import DatabaseError, connections

from . import conf, ping
from .aws import Gateway
from .engine import Branch, Engine
from .errors import DevdbError, Locked, RunFailed
from .locks import Lease
from .models import TargetLease
from .output import Reporter


def control_database_error(alias, exc):
    """Why the lease could not be taken, in one line: the control database cannot be reached (a
    wrong URL, a server down: migrating would not help), or it has no tables yet (run migrate)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    try:
        tables = connections[alias].introspection.table_names()
    except DatabaseError as unreachable:
        why = str(unreachable).splitlines()[0] if str(unreachable) else reason
        return DevdbError(f"control database {alias!r} cannot be reached ({why}); check its settings "
                          f"(DATABASES[{alias!r}], DEVDB_DATABASE_URL in the example project)")
    if TargetLease._meta.db_table not in tables:
        return DevdbError(f"control database {alias!r} has no django-devdb tables; "
                          f"run `manage.py migrate --database {alias}`")
    return DevdbError(f"control database {alias!r} is not usable ({reason}); "
                      f"is it migrated (`manage.py migrate --database {alias}`)?")


def lease_name(target, branch=None):
    """A target's lease, or one branch's (`target/NAME`, hashed to the column's 63 characters if longer)."""
    if not branch:
        return target
    name = f"{target}/{branch}"
    return name if len(name) <= 63 else f"{name[:50]}/{hashlib.sha1(name.encode()).hexdigest()[:12]}"


def run(names, step, *, dry_run=False, lock=True, parallel=None, gateway=None, engine_options=None, pings=False,
        branch=None):
    """Call step(engine) for each target; return the Outcomes or raise RunFailed.

    Settings (and target names) are validated before any AWS call. pings: ping each target's
    PING_URL around its step (refresh_devdb: the run a monitor expects every morning). branch: step gets
    that branch's engine (engine.Branch), under a lease of its own (the daily run goes on meanwhile).
    """
    settings = conf.get_settings()
    targets = settings.select(names)
    gateway = gateway or Gateway(max_attempts=settings.aws_max_attempts)
    workers = max(1, min(parallel or min(4, len(targets)), len(targets)))

    def one(target):
        options = dict(reporter=Reporter(target.name), dry_run=dry_run, **(engine_options or {}))
        engine = Branch(target, gateway, settings, branch, **options) if branch else Engine(target, gateway, settings, **options)
        lease = Lease(lease_name(target.name, branch), settings.lock_expiry) if lock and not dry_run else None
        ping_url = target.ping_url if pings and not dry_run else None
        try:
            if lease:
                try:
                    lease.acquire()
                except DatabaseError as exc:
                    raise control_database_error(settings.database, exc) from exc
                engine.heartbeat = lease.renew
            ping.ping(ping_url, "start", engine.reporter)
            step(engine)
        except DevdbError as exc:
            engine.outcome.error = conf.in_user_terms(target.name, str(exc))
            engine.outcome.exit_code = exc.exit_code
        except Exception as exc:  # one target's surprise must not stop the others
            first = str(exc).splitlines()[0] if str(exc) else ""
            engine.outcome.error = f"unexpected {type(exc).__name__}: {first}"
            engine.outcome.exit_code = 1
        else:
            ping.ping(ping_url, "success", engine.reporter)
        finally:
            if lease and lease.token_held:
                lease.release()
            if workers > 1:
                connections.close_all()
        if engine.outcome.error and engine.outcome.exit_code != Locked.exit_code:
            ping.ping(ping_url, "fail", engine.reporter, engine.outcome.error)  # another run's lease is no failure
        return engine.outcome

    if workers == 1:
        outcomes = [one(t) for t in targets]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="devdb") as pool:
            outcomes = list(pool.map(one, targets))
    failed = [o for o in outcomes if o.error]
    if failed:
        locked_only = all(getattr(o, "exit_code", 1) == Locked.exit_code for o in failed)
        raise RunFailed(outcomes, Locked.exit_code if locked_only else 1)
    return outcomes
