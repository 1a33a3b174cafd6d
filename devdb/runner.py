"""Run one engine step for each selected target: validated settings, one gateway, a lease each.

Targets run concurrently (threads; the work is waiting on AWS). One target's failure does not
stop the others; the run's exit status is 1 if any failed, 3 if the only failures were locks.
"""

from concurrent.futures import ThreadPoolExecutor

from django.db import DatabaseError, connections

from . import conf
from .aws import Gateway
from .engine import Engine
from .errors import DevdbError, Locked, RunFailed
from .locks import Lease
from .output import Reporter


def run(names, step, *, dry_run=False, lock=True, parallel=None, gateway=None, engine_options=None):
    """Call step(engine) for each target; return the Outcomes or raise RunFailed.

    Settings (and target names) are validated before any AWS call.
    """
    settings = conf.get_settings()
    targets = settings.select(names)
    gateway = gateway or Gateway(max_attempts=settings.aws_max_attempts)
    workers = max(1, min(parallel or min(4, len(targets)), len(targets)))

    def one(target):
        engine = Engine(target, gateway, settings, reporter=Reporter(target.name), dry_run=dry_run, **(engine_options or {}))
        lease = Lease(target.name, settings.lock_expiry) if lock and not dry_run else None
        try:
            if lease:
                try:
                    lease.acquire()
                except DatabaseError as exc:
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise DevdbError(
                        f"control database {settings.database!r} is not usable ({reason}); "
                        f"did you run `manage.py migrate --database {settings.database}`?"
                    ) from exc
                engine.heartbeat = lease.renew
            step(engine)
        except DevdbError as exc:
            engine.outcome.error = str(exc)
            engine.outcome.exit_code = exc.exit_code
        except Exception as exc:  # one target's surprise must not stop the others
            first = str(exc).splitlines()[0] if str(exc) else ""
            engine.outcome.error = f"unexpected {type(exc).__name__}: {first}"
            engine.outcome.exit_code = 1
        finally:
            if lease and lease.token_held:
                lease.release()
            if workers > 1:
                connections.close_all()
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
