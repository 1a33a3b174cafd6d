"""One run per target: a lease row in the control database.

Taking a lease is a compare-and-swap on the row (an INSERT, or an UPDATE guarded by the old
token), atomic on SQLite, MySQL and PostgreSQL alike. A lease is taken over at once when its
holder is on this host and its pid is gone, and by anyone once it has expired.

Time is the control database's, never a host's: the expiry is written and compared in SQL with
the database's own clock, so hosts whose clocks disagree by hours still agree on who holds a lease.
A run renews its lease between polls and before each AWS change (`check()`, the fencing check that
Changes.make calls): when the UPDATE matches no row (another run took the lease over) the run stops
with LeaseLost before making the change.
"""

import hashlib
import os
import socket
import threading
import uuid

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Func, Q

from .conf import control_database
from .errors import Interrupted, LeaseLost, Locked
from .models import TargetLease

# Set when the process is told to stop (SIGTERM/SIGINT, devdb.runner): each run stops at its next
# renewal, poll or change, releasing its lease.
stopping = threading.Event()
stop_reason = {"signal": ""}


def check_stopping():
    if stopping.is_set():
        raise Interrupted(f"interrupted by {stop_reason['signal'] or 'a signal'}: stopped before its next change; "
                          "the lease is released, the next run resumes")


def lease_name(target, branch=None):
    """A target's lease, or one branch's (`target/NAME`, hashed to the column's 63 characters if longer)."""
    if not branch:
        return target
    name = f"{target}/{branch}"
    return name if len(name) <= 63 else f"{name[:50]}/{hashlib.sha1(name.encode()).hexdigest()[:12]}"


class DbNow(Func):
    """The control database's clock (UTC), plus `seconds`: what leases are written and compared with."""

    output_field = DateTimeField()

    def __init__(self, seconds=0):
        super().__init__()
        self.seconds = int(seconds)

    def as_sqlite(self, compiler, connection, **extra):
        return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %s)", [f"{self.seconds:+d} seconds"]

    def as_mysql(self, compiler, connection, **extra):
        return "(UTC_TIMESTAMP(6) + INTERVAL %s SECOND)", [self.seconds]

    def as_postgresql(self, compiler, connection, **extra):
        return "(STATEMENT_TIMESTAMP() + %s * INTERVAL '1 second')", [self.seconds]

    def as_sql(self, compiler, connection, **extra):  # any other backend: its CURRENT_TIMESTAMP
        return "CURRENT_TIMESTAMP", []


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def expired():
    """A filter(): the lease has expired by the control database's clock."""
    return Q(expires_at__lte=DbNow())


class Lease:
    def __init__(self, target, expiry=7200, host=None, pid=None):
        self.target = target
        self.expiry = int(expiry)
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self.token = uuid.uuid4().hex
        self.db = control_database()
        self.token_held = False

    def _rows(self):
        return TargetLease.objects.using(self.db).filter(target=self.target)

    def _fields(self):
        return dict(token=self.token, host=self.host, pid=self.pid, acquired_at=DbNow(),
                    expires_at=DbNow(self.expiry))

    def acquire(self):
        try:
            with transaction.atomic(using=self.db):
                TargetLease.objects.using(self.db).create(target=self.target, **self._fields())
            self.token_held = True
            return self
        except IntegrityError:
            pass
        current = self._rows().first()
        if current is None:  # released in between: try once more from the top
            return self.acquire()
        # Taken over when expired by the database's clock (decided in the UPDATE itself, so a renewal
        # that lands first wins), or at once when its holder on this host is gone.
        stale = expired()
        if current.host == self.host and current.pid != self.pid and not pid_alive(current.pid):
            stale |= Q(host=current.host, pid=current.pid)
        if self._rows().filter(stale, token=current.token).update(**self._fields()):
            self.token_held = True
            return self
        current = self._rows().first() or current
        raise Locked(
            f"target {self.target!r} is locked by another run: host {current.host} pid {current.pid} "
            f"since {current.acquired_at:%Y-%m-%dT%H:%M:%SZ} (expires {current.expires_at:%Y-%m-%dT%H:%M:%SZ})"
        )

    def renew(self):
        """Move the expiry to the database's now + expiry; LeaseLost if the lease is no longer ours
        (the UPDATE matched no row: another run took it over after it expired, or it was released).
        Called between polls (the engine's heartbeat)."""
        self._extend()

    def check(self):
        """The fencing check made before each AWS change (Changes.make): the same renewal."""
        self._extend()

    def _extend(self):
        check_stopping()
        if not self.token_held:
            return
        if not self._rows().filter(token=self.token).update(expires_at=DbNow(self.expiry)):
            self.token_held = False
            holder = self._rows().first()
            who = f"host {holder.host} pid {holder.pid} holds it now" if holder else "nobody holds it now"
            raise LeaseLost(f"target {self.target!r}: this run lost its lease (it expired and {who}, or it was "
                            "released); stopped before its next change")

    def release(self):
        self._rows().filter(token=self.token).delete()
        self.token_held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
