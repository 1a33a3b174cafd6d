"""One run per target: a lease row in the control database.

Taking a lease is a compare-and-swap on the row (an INSERT, or an UPDATE guarded by the old
token), atomic on SQLite, MySQL and PostgreSQL alike. A lease is taken over at once when its
holder is on this host and its pid is gone, and by anyone once it has expired.
"""

import os
import socket
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .conf import control_database
from .errors import Locked
from .models import TargetLease


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    def __init__(self, target, expiry=7200, host=None, pid=None, now=timezone.now):
        self.target = target
        self.expiry = timedelta(seconds=expiry)
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self.token = uuid.uuid4().hex
        self.now = now
        self.db = control_database()
        self.token_held = False

    def _stale(self, lease, now):
        if lease.expires_at <= now:
            return True
        return lease.host == self.host and lease.pid != self.pid and not pid_alive(lease.pid)

    def acquire(self):
        now = self.now()
        fields = dict(token=self.token, host=self.host, pid=self.pid, acquired_at=now, expires_at=now + self.expiry)
        try:
            with transaction.atomic(using=self.db):
                TargetLease.objects.using(self.db).create(target=self.target, **fields)
            self.token_held = True
            return self
        except IntegrityError:
            pass
        current = TargetLease.objects.using(self.db).filter(target=self.target).first()
        if current is None:  # released in between: try once more from the top
            return self.acquire()
        if self._stale(current, now):
            taken = TargetLease.objects.using(self.db).filter(target=self.target, token=current.token).update(**fields)
            if taken:
                self.token_held = True
                return self
            current = TargetLease.objects.using(self.db).filter(target=self.target).first() or current
        raise Locked(
            f"target {self.target!r} is locked by another run: host {current.host} pid {current.pid} "
            f"since {current.acquired_at:%Y-%m-%dT%H:%M:%SZ} (expires {current.expires_at:%Y-%m-%dT%H:%M:%SZ})"
        )

    def renew(self):
        TargetLease.objects.using(self.db).filter(target=self.target, token=self.token).update(
            expires_at=self.now() + self.expiry
        )

    def release(self):
        TargetLease.objects.using(self.db).filter(target=self.target, token=self.token).delete()
        self.token_held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
