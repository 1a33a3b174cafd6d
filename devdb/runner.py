"""Run one engine step for each selected target: validated settings, one gateway, a lease each.

Targets run concurrently (threads; the work is waiting on AWS). One target's failure does not
stop the others; the run's exit status is 1 if any failed, 3 if the only failures were locks.
"""

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import DatabaseError, connections

from . import conf, locks, ping
from .aws import Gateway
from .engine import Branch, Engine
from .errors import ControlDatabaseLost, DevdbError, Interrupted, Locked, RunFailed
from .locks import Lease, lease_name
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


def control_database_lost(alias, exc):
    """The one line for a control database lost mid-run (dropped, unreachable), naming it and its host."""
    settings = connections[alias].settings_dict
    where = f"host {settings.get('HOST') or 'localhost'}" if settings.get("HOST") else f"file {settings.get('NAME')}"
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ControlDatabaseLost(f"control database {alias!r} ({where}) was lost mid-run ({reason}); the run stopped "
                               "before its next change: re-run once it is back (AWS is left as a re-run expects)")


@contextmanager
def stop_on_signals(main_runs_step):
    """SIGTERM/SIGINT: say so in one line, stop before the next change, release the lease (the runner's
    `finally`). With one target the step runs in this (the main) thread and is interrupted at once;
    with several, each thread stops at its next poll, renewal or change (locks.stopping). A second
    signal ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        locks.stop_reason["signal"] = signal.Signals(signum).name
        locks.stopping.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if main_runs_step:
            locks.check_stopping()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        locks.stopping.clear()


def control_database_gone(alias):
    """Whether the control database no longer answers (or lost its tables), on a fresh connection."""
    connections[alias].close()
    try:
        TargetLease.objects.using(alias).exists()
    except DatabaseError:
        return True
    return False


def release(lease, alias):
    """Release the lease; once more on a fresh connection if the first try failed (a dropped link)."""
    for attempt in range(2):
        try:
            lease.release()
            return
        except DatabaseError:
            connections[alias].close()
            if attempt:
                lease.token_held = False  # the database is gone: the lease expires by itself


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
        quiet = False  # no /fail ping: another run holds the lease (not a failure of this one)
        try:
            if lease:
                try:
                    lease.acquire()
                except DatabaseError as exc:
                    raise control_database_error(settings.database, exc) from exc
                engine.heartbeat, engine.changes.fence = lease.renew, lease.check
            ping.ping(ping_url, "start", engine.reporter)
            step(engine)
        except DatabaseError as exc:  # the control database went away mid-run, or a surprise from a clone's
            failure = control_database_lost(settings.database, exc) if control_database_gone(settings.database) \
                else DevdbError(f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            engine.outcome.error, engine.outcome.exit_code = str(failure), failure.exit_code
        except DevdbError as exc:
            engine.outcome.error = conf.in_user_terms(target.name, str(exc))
            engine.outcome.exit_code = exc.exit_code
            quiet = isinstance(exc, Locked)
        except KeyboardInterrupt:  # SIGINT before the handler was in place
            interrupted = Interrupted("interrupted: stopped; the lease is released, the next run resumes")
            engine.outcome.error, engine.outcome.exit_code = str(interrupted), interrupted.exit_code
        except Exception as exc:  # one target's surprise must not stop the others
            first = str(exc).splitlines()[0] if str(exc) else ""
            engine.outcome.error = f"unexpected {type(exc).__name__}: {first}"
            engine.outcome.exit_code = 1
        else:
            ping.ping(ping_url, "success", engine.reporter)
        finally:
            if lease:
                release(lease, settings.database)
            if workers > 1:
                connections.close_all()
        if engine.outcome.error and not quiet:
            ping.ping(ping_url, "fail", engine.reporter, engine.outcome.error)
        return engine.outcome

    with stop_on_signals(main_runs_step=workers == 1):
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
