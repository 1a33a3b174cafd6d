"""Point the stable name at a clone (the newest ready one, or a rollback target) and abort what it replaces."""

from datetime import timedelta

from .. import history, lifecycle, probes, signals
from ..errors import ConfigError, DevdbError, NotFound, ProbeError
from ..lifecycle import ABORTED, CONNECTED, DELETED, READY
from .waiting import STOPPED

INSYNC_TIMEOUT = 600


class Connecting:
    """Moving the stable name; the name is the truth about what is connected."""

    def connect(self, to=None):
        """Point the stable name at `to`, or at the newest ready clone; abort what it replaces."""
        value, pointed = self.points_at()
        if pointed:
            if self.state(pointed) != CONNECTED:
                # A killed run moved the name but did not re-tag: the name is the truth.
                self.set_state(pointed, CONNECTED, rollback=True, message=f"{self.target.record_name} already points here")
            # ... or re-tagged it but not (all of) what it replaced: without this the old clone stays
            # connected, and an older ready clone would be chosen below and the name moved back to it.
            self._abort_superseded(pointed, older_ready=not to)
        if to:
            chosen = self._rollback_candidate(to)
        else:
            ready = self.in_state(READY)
            chosen = ready[-1] if ready else None
            if chosen is not None and not self._usable_now(chosen):
                self.reporter.warning("not connecting %s: it is %s", chosen.id, chosen.status)
                chosen = None
            if chosen is None and value is None:
                chosen = self._lost_record()
        if chosen is not None and not (chosen is pointed and self.state(chosen) == CONNECTED):
            self._move_name(chosen, value, rollback=bool(to))
        connected = self.in_state(CONNECTED)
        self.outcome.connected = connected[-1].id if connected else None
        return chosen

    def _lost_record(self):
        """The stable name is gone (its CNAME deleted by hand) while a clone is connected: that clone, to point
        the name at again (said), or None."""
        connected = self.in_state(CONNECTED)
        if not connected:
            return None
        self.reporter.warning("%s does not exist (deleted by hand?) but %s is connected: pointing it there again",
                              self.target.record_name, connected[-1].id)
        if not self._usable_now(connected[-1]):
            raise DevdbError(f"{self.target.record_name} does not exist and {connected[-1].id}, the connected clone, "
                             f"is {connected[-1].status}: the name was not made again")
        return connected[-1]

    def name_owner(self, value):
        """(cluster id, target) when `value`, where the stable name points, is a django-devdb clone of
        another target; else None. One call, only when the name points at none of this target's clones."""
        if not value or self._clone_for(value):
            return None
        try:
            cluster = self.aws.source(value.rstrip(".").split(".", 1)[0])
        except NotFound:
            return None
        other = cluster.tags.get(lifecycle.TAG_TARGET)
        if cluster.tags.get(lifecycle.TAG_MANAGED_BY) != lifecycle.MANAGED_BY or not other or other == self.target.name:
            return None
        return cluster.id, other

    def refuse_foreign_name(self, value):
        """Before any change: never move the name off another target's clone (a renamed target, or a
        RECORD_NAME copied from another target)."""
        owner = self.name_owner(value)
        if owner:
            raise DevdbError(f"RECORD_NAME: {self.target.record_name} points at {owner[0]}, a clone of target "
                             f"{owner[1]!r}; refusing to move it (renamed target, or a typo in RECORD_NAME?)")

    def _usable_now(self, cluster):
        """Whether the name may move to `cluster` now; a stopped clone is started and waited for first."""
        if cluster.status not in (STOPPED, "starting", "stopping"):  # stopping: a kept clone (clean.py) being stopped
            return cluster.status == probes.AVAILABLE
        return self.changes.step(f"start {cluster.id} (it is {cluster.status}) and wait until it is available",
                                 lambda: self._started(cluster), planned=True)

    def _started(self, cluster):
        timeout = self.target.ready_timeout
        try:
            self._wait_cluster_available(cluster, self.now() + timedelta(seconds=timeout), timeout)
        except ProbeError:
            return False
        return True

    def _rollback_candidate(self, cluster_id):
        cluster_id = cluster_id.lower()  # RDS stores identifiers in lower case
        if cluster_id in self.settings.source_clusters:
            raise ConfigError(f"--to: {cluster_id} is a source cluster; only a clone of target {self.target.name!r} can be connected")
        cluster = self.clones.get(cluster_id)
        if cluster is None:
            try:
                other = self.aws.source(cluster_id)
            except NotFound:
                record = history.find(cluster_id)
                if record and record.state == DELETED:
                    raise ConfigError(f"--to: clone {cluster_id} was deleted at {lifecycle.format_time(record.deleted_at or record.state_since)}") from None
                raise ConfigError(f"--to: cluster {cluster_id} does not exist") from None
            if other.tags.get(lifecycle.TAG_MANAGED_BY) != lifecycle.MANAGED_BY:
                raise ConfigError(f"--to: cluster {cluster_id} is not managed by django-devdb")
            raise ConfigError(f"--to: cluster {cluster_id} belongs to target {other.tags.get(lifecycle.TAG_TARGET)!r}, not {self.target.name!r}")
        state = self.state(cluster)
        if state not in (READY, ABORTED, CONNECTED):
            raise ConfigError(f"--to: clone {cluster_id} is {state or 'untagged'}; only a ready or aborted clone can be connected")
        if state == ABORTED and history.never_ready(cluster_id):
            reason = (history.find(cluster_id).last_error or "failed").splitlines()[0]
            raise ConfigError(f"--to: clone {cluster_id} never became ready ({reason}); it cannot be connected")
        self._refresh_cluster(cluster)
        if not self._usable_now(cluster):
            raise ConfigError(f"--to: clone {cluster_id} is {cluster.status}, not available")
        return cluster

    def _move_name(self, cluster, old_value, rollback=False):
        self.require_masked(cluster)
        record = self.target.record_name
        self.changes.make(f"point {record} at {cluster.id} ({cluster.endpoint or 'its endpoint'}; was {old_value or 'unset'})",
                          lambda: self._point_name(cluster))
        previous = [c.id for c in self.in_state(CONNECTED) if c is not cluster]
        self.set_state(cluster, CONNECTED, rollback=rollback or self.state(cluster) == ABORTED,
                       message=f"{record} points here" + (" (rollback)" if rollback else ""))
        self._abort_superseded(cluster, older_ready=not rollback)
        self.changes.announce(signals.clone_connected, target=self.target.name, cluster_id=cluster.id,
                              endpoint=cluster.endpoint, record_name=record, previous=previous)

    def _point_name(self, cluster):
        """UPSERT the CNAME and wait until Route53 has applied it everywhere (INSYNC)."""
        record = self.target.record_name
        change_id, status = self.aws.upsert_cname(
            self.target.zone_id, record, cluster.endpoint, self.target.record_ttl,
            comment=f"django-devdb: {self.target.name} -> {cluster.id}",
        )
        deadline = self.now() + timedelta(seconds=INSYNC_TIMEOUT)
        check = lambda: (lambda s: (s == "INSYNC", s))(self.aws.change_status(change_id))  # noqa: E731
        if status != "INSYNC" and self._wait(f"{record} change {change_id} to be INSYNC", check, deadline) is None:
            raise DevdbError(f"Route53 change {change_id} for {record} was not INSYNC within {INSYNC_TIMEOUT}s; re-run to finish")
        self.outcome.points_at = (cluster.endpoint or "").lower()

    def _abort_superseded(self, connected, older_ready=True):
        for cluster in self.in_state(CONNECTED):
            if cluster is not connected:
                self.set_state(cluster, ABORTED, message=f"superseded by {connected.id}")
        if older_ready:
            for cluster in self.in_state(READY):
                if self._age_key(cluster) < self._age_key(connected):
                    self.set_state(cluster, ABORTED, message=f"superseded by {connected.id}")
