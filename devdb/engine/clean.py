"""Delete aborted clones past the grace, except those kept for rollback. Every rule is re-checked
against fresh facts (the cluster and the live DNS record) right before deleting.

Cost: a clone kept for rollback (KEEP_ABORTED) is stopped once its grace has passed (StopDBCluster:
only an available cluster can be stopped; a rollback starts it again), and a deleted clone's
CloudWatch log groups (/aws/rds/cluster/<id>/<type>, one per exported log type) are deleted with it.
"""

from datetime import timedelta

from .. import history, lifecycle, probes, signals
from ..errors import AwsError, DevdbError, NotFound, NotNow
from ..lifecycle import ABORTED, DELETED
from .clones import cluster_serves
from .waiting import STOPPED

DELETE_TIMEOUT = 3600
DELETING = "deleting"
STARTING, STOPPING = "starting", "stopping"


class Cleaning:
    """Deleting aborted clones safely."""

    def keep(self):
        """The newest KEEP_ABORTED aborted clones, kept for rollback: the most recently aborted (i.e.
        most recently live) first; clones that failed before becoming ready are no rollback target."""
        if not self.target.keep_aborted:
            return set()
        candidates = [c for c in self.in_state(ABORTED) if not history.never_ready(c.id)]
        candidates.sort(key=lambda c: (self.since(c), self._age_key(c)))
        return {c.id for c in candidates[-self.target.keep_aborted:]}

    def grace_for(self, cluster, grace):
        """The DNS grace protects clients that resolved the name to `cluster`: none if it never was live."""
        return 0 if history.never_live(cluster.id) else grace

    def deletable(self, grace, keep, at=None):
        """The aborted clones whose grace has passed by `at` (default now), but those in `keep` (keep())."""
        at = at or self.now()
        return [c for c in self.in_state(ABORTED)
                if c.id not in keep and self.since(c) <= at - timedelta(seconds=self.grace_for(c, grace))]

    def wait_grace(self, grace):
        """Sleep until the clones aborted within the last `grace` seconds may be deleted; returns when
        that is (None: no wait needed)."""
        keep = self.keep()
        pending = [self.since(c) + timedelta(seconds=self.grace_for(c, grace))
                   for c in self.in_state(ABORTED) if c.id not in keep]
        until = max((t for t in pending if t > self.now()), default=None)
        if until is None:
            return None
        self.changes.step(
            f"wait out the grace of {grace}s (until {lifecycle.format_time(until)})",
            lambda: self._wait(f"the grace of {grace}s (clients to drop the old address)",
                               lambda: (self.now() >= until, f"until {lifecycle.format_time(until)}"), until),
        )
        return until

    def clean(self, grace=None, at=None):
        """Delete the aborted clones past the grace by `at` (what wait_grace returned; default now)."""
        grace = self.target.clean_grace if grace is None else grace
        deleted, keep = [], self.keep()  # one history read for both: deleting never changes which are kept
        for cluster in self.deletable(grace, keep, at):
            if self._delete(cluster, grace):
                deleted.append(cluster.id)
        self.stop_kept(grace, keep, at)
        return deleted

    def stop_kept(self, grace, keep, at=None):
        """Stop the clones kept for rollback (`keep`) whose grace has passed: a kept clone costs its writer's
        hours for nothing until a rollback, which starts it again (connect.py). Only an available
        cluster can be stopped; one that is busy is stopped by a later run."""
        at = at or self.now()
        for cluster in self.in_state(ABORTED):
            if (cluster.id not in keep or cluster.status != probes.AVAILABLE
                    or self.since(cluster) > at - timedelta(seconds=self.grace_for(cluster, grace))):
                continue
            self.changes.make(f"stop {cluster.id} (kept for rollback, KEEP_ABORTED={self.target.keep_aborted}; "
                              "a rollback starts it again)", lambda cluster=cluster: self._stop(cluster))

    def _stop(self, cluster):
        try:
            cluster.status = self.aws.stop_cluster(cluster.id).status
        except NotNow as exc:  # busy (e.g. backing up): a later run stops it
            self.reporter.warning("%s not stopped yet: %s", cluster.id, exc)
            return
        history.note(cluster.id, self.now(), "stopped while kept for rollback (KEEP_ABORTED)")

    def _delete(self, cluster, grace, name_may_point=False):
        """Delete one aborted clone's instances, then the clone; re-checking every rule first (a dry run
        takes the facts it pretended: it made none of the changes they would be re-checked after).
        name_may_point: the stable name may still point at it (a cross-account clone making room)."""
        fresh = self.changes.step(None, lambda: self._recheck(cluster, grace, name_may_point), planned=cluster)
        if fresh is None:
            return False
        if fresh.status == DELETING:  # a killed run already asked AWS to delete it
            self._delete_logs(fresh)
            self._forget(fresh, "deleted (AWS is deleting it)")
            self.outcome.deleted.append(cluster.id)
            return True
        for instance in fresh.instances:
            if not self._ours(instance, fresh):
                self.reporter.warning("not deleting %s: instance %s is not a django-devdb instance of this target",
                                      cluster.id, instance.id)
                return False
        if fresh.status in (STOPPED, STARTING, STOPPING):
            # Its instances cannot be deleted while it is stopped (a clone kept for rollback is): start
            # it and wait, then delete it in this run, not leave it running until the next one.
            if not self.changes.step(f"start {cluster.id} (it is {fresh.status}) and wait until it is available, "
                                     "to delete it", lambda: self._started(fresh), planned=True):
                self.reporter.warning("not deleting %s yet: it is %s and did not start; a later run deletes it",
                                      cluster.id, fresh.status)
                return False
            fresh = self.changes.step(None, lambda: self._recheck(cluster, grace, name_may_point), planned=fresh)
            if fresh is None:
                return False
        self.reconcile_instances(fresh)
        for instance in fresh.instances:
            if instance.status != DELETING:
                self.changes.make(f"delete instance {instance.id}", lambda instance=instance: self._delete_instance(instance))
        deadline = self.now() + timedelta(seconds=DELETE_TIMEOUT)
        if not self.changes.step(None, lambda: self._instances_deleting(fresh, deadline, name_may_point), planned=True):
            return False
        # AWS accepts deleting the cluster once every instance is deleting: no need to wait until they are gone.
        self.changes.make(f"delete clone {cluster.id} (aborted since {lifecycle.format_time(self.since(fresh))})",
                          lambda: self._delete_cluster(fresh, deadline))
        self.changes.announce(signals.clone_deleted, target=self.target.name, cluster_id=cluster.id)
        return True

    def _recheck(self, cluster, grace, name_may_point=False):
        """The clone read afresh, or None (with the reason said) when it must not be deleted now."""
        try:
            fresh = self.aws.cluster(cluster.id)
        except NotFound:
            self._forget(cluster, "cluster no longer exists")
            return None
        problem = self._deletion_veto(fresh, grace, name_may_point)
        if problem:
            self.reporter.warning("not deleting %s: %s", cluster.id, problem)
            return None
        return fresh

    def _instances_deleting(self, cluster, deadline, name_may_point=False):
        """Whether every instance is deleting (AWS refuses one while busy: retried until the deadline)
        and the name still does not point at the clone."""
        if all(i.status == DELETING for i in cluster.instances):
            return True

        def check():
            left = [i for i in self.aws.instances([cluster.id]) if i.status != DELETING]
            left = [i for i in left if self._delete_instance(i) != DELETING]
            return not left, ", ".join(f"{i.id} {i.status}" for i in left) or "all deleting"

        if self._wait(f"the instances of {cluster.id} to be deleting", check, deadline) is None:
            raise DevdbError(f"instances of {cluster.id} were not deleted within {DELETE_TIMEOUT}s; re-run to finish")
        # Time has passed: the name must still not point here.
        if name_may_point:
            return True
        value, _ = self.points_at()
        if cluster_serves(cluster, value):
            self.reporter.warning("not deleting %s: %s now points at it", cluster.id, self.target.record_name)
            return False
        return True

    def _delete_cluster(self, cluster, deadline):
        try:
            self._when_allowed(f"{cluster.id} to accept its deletion", lambda: self.aws.delete_cluster(cluster.id), deadline)
        except NotFound:
            pass
        self._delete_logs(cluster)
        self._forget(cluster, "deleted (SkipFinalSnapshot)")
        self.outcome.deleted.append(cluster.id)

    def _delete_logs(self, cluster):
        """Delete the log groups of the clone's exported logs (none exported: no call). A refusal is
        a warning: the clone itself is gone."""
        if not cluster.config.log_exports:
            return
        try:
            self.aws.delete_log_groups(cluster.id, cluster.config.log_exports)
        except AwsError as exc:
            self.reporter.warning("log groups of %s not deleted: %s", cluster.id, exc)

    def _delete_instance(self, instance):
        """Ask AWS to delete one instance; its status afterwards (DELETING once accepted or already so)."""
        try:
            self.aws.delete_instance(instance.id)
        except NotFound:
            pass
        except NotNow as exc:
            if "already being deleted" not in str(exc).lower():
                return instance.status
        instance.status = DELETING
        return DELETING

    def _deletion_veto(self, cluster, grace, name_may_point=False):
        """Why `cluster` must not be deleted now, or None. Reads the live DNS record."""
        if cluster.id in self.settings.source_clusters:
            return "it is a source cluster"
        if not lifecycle.is_ours(cluster.tags, self.target.name):
            return "it is not a django-devdb clone of this target"
        if self.state(cluster) != ABORTED:
            return f"it is {self.state(cluster) or 'untagged'}, not aborted"
        grace = self.grace_for(cluster, grace)
        if self.since(cluster) > self.now() - timedelta(seconds=grace):
            return f"it was aborted less than {grace}s ago"
        if name_may_point:
            return None
        value, _ = self.points_at()
        if cluster_serves(cluster, value):
            return f"{self.target.record_name} points at it"
        return None

    def _forget(self, cluster, message):
        self.clones.pop(cluster.id, None)
        self.changes.record(lambda: history.mirror(target=self.target.name, cluster_id=cluster.id, state=DELETED,
                                                   at=self.now(), message=message))
