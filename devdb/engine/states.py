"""The one way a clone's state changes: tag it (and its instances) in AWS, then mirror the tag."""

from .. import history, lifecycle
from ..errors import CloneFailed
from ..lifecycle import ABORTED, CONNECTED, STATES, TAG_STATE, TAG_STATE_SINCE


class States:
    """Tagging states, and aborting a clone that failed."""

    def set_state(self, cluster, new, *, rollback=False, message="", error=None):
        """Tag cluster and its instances with `new` (one TagResources call) and mirror it; the one way
        states change."""
        old = self.state(cluster)
        lifecycle.check_move(cluster.id, old, new, rollback=rollback)
        self.changes.make(f"tag {cluster.id} {new}" + (f" ({message})" if message else ""),
                          lambda: self._tag_state(cluster, new, message, error),
                          pretend=lambda: self._tag_in_memory(cluster, lifecycle.state_tags(new, self.now())),
                          warn=new == ABORTED and bool(error))

    def _tag_state(self, cluster, new, message, error):
        now = self.now()
        tags = lifecycle.state_tags(new, now)
        self.aws.tag([cluster.arn] + [i.arn for i in self._tagged_instances(cluster)], tags)
        self._tag_in_memory(cluster, tags)
        self._mirror(cluster, new, now, message=message, error=error)

    def _tagged_instances(self, cluster):
        return [i for i in cluster.instances if self._ours(i, cluster)]

    def _tag_in_memory(self, cluster, tags):
        for resource in [cluster] + self._tagged_instances(cluster):
            resource.tags.update(tags)

    def _mirror(self, cluster, state, at, message="", error=None, created_at=None):
        history.mirror(
            target=self.target.name, cluster_id=cluster.id, state=state, at=at,
            source=cluster.tags.get(lifecycle.TAG_SOURCE, self.target.source_cluster),
            instance_id=self.writer_id(cluster), endpoint=cluster.endpoint or "", message=message, error=error,
            created_at=created_at, branch={k: cluster.tags[k] for k in lifecycle.BRANCH_TAG_KEYS if k in cluster.tags},
        )

    def repair_states(self):
        """A devdb:state value that is none of ours (edited by hand) is said, and replaced by where the name
        points: connected if it points at the clone, else aborted (clean deletes it). Never copied to instances."""
        unknown = [c for c in self.clones.values() if self.state(c) not in STATES]
        if not unknown:
            return
        _, pointed = self.points_at()
        for cluster in unknown:
            new = CONNECTED if cluster is pointed else ABORTED
            where = "points at it" if cluster is pointed else "does not point at it"
            self.reporter.warning("%s has devdb:state %r, which is not a django-devdb state (edited by hand?): %s %s, so "
                                  "it is tagged %s", cluster.id, self.state(cluster), self.target.record_name, where, new)
            self.changes.make(f"tag {cluster.id} {new} (its devdb:state was {self.state(cluster)!r})",
                              lambda cluster=cluster, new=new: self._tag_state(
                                  cluster, new, f"devdb:state was {self.state(cluster)!r}", None),
                              pretend=lambda cluster=cluster, new=new: self._tag_in_memory(
                                  cluster, lifecycle.state_tags(new, self.now())))

    def reconcile_instances(self, cluster):
        """Give the instances the cluster's state tags when a killed run tagged only the cluster (never a
        state that is not one of ours: repair_states replaces it first)."""
        if self.state(cluster) not in STATES:
            return
        wanted = {k: cluster.tags[k] for k in (TAG_STATE, TAG_STATE_SINCE) if k in cluster.tags}
        for instance in cluster.instances:
            if not self._ours(instance, cluster):
                continue
            missing = {k: v for k, v in wanted.items() if instance.tags.get(k) != v}
            if not lifecycle.is_ours(instance.tags, self.target.name):
                missing = {k: v for k, v in cluster.tags.items() if k.startswith("devdb:")}
            if missing:
                self.changes.make(f"finish tagging instance {instance.id} {wanted.get(TAG_STATE)}",
                                  lambda instance=instance, missing=missing: self._tag_instance(instance, missing))

    def _tag_instance(self, instance, tags):
        self.aws.tag([instance.arn], tags)
        instance.tags.update(tags)

    def _abort_failed(self, cluster, reason):
        self.set_state(cluster, ABORTED, message=f"failed: {reason}", error=reason)
        raise CloneFailed(f"clone {cluster.id} aborted: {reason}")

    def _abort_quietly(self, cluster, reason):
        self.set_state(cluster, ABORTED, message=f"failed: {reason}", error=reason)
        self.reporter.warning("clone %s aborted: %s", cluster.id, reason)
