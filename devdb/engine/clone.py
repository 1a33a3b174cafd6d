"""Make today's clone: restore copy-on-write from the source, then add its writer instance."""

from dataclasses import replace
from datetime import timedelta

from .. import history, lifecycle, parity, preflight
from ..aws import Cluster
from ..probes import AVAILABLE
from ..errors import AlreadyExists, AwsError, CloneFailed, NotFound, ProbeError
from ..lifecycle import ABORTED, CONNECTED, CREATED, READY
from .clean import DELETE_TIMEOUT


class Cloning:
    """Create today's clone, or finish the one a killed run left."""

    def clone(self):
        """Create today's clone, or finish the one that exists. Returns it (a dry run: a stand-in), or
        None when today's clone was made and is gone without having failed (nothing to do)."""
        existing = self.clones.get(self.today)
        if existing:
            self._finish(existing)
            return existing
        record = history.find(self.today)
        if record is not None and record.target == self.target.name and not self._lost_by_hand(record):
            # Made and deleted today: one clone per target per day. Only a failure is one to report
            # (a clone rolled back from, then cleaned, was the operator's choice).
            if not history.never_ready(self.today):
                return None
            reason = f" ({record.last_error})" if record.last_error else ""
            raise CloneFailed(f"today's clone {self.today} was already made and is {record.state}{reason}; "
                              "the next one is made tomorrow")
        source = self._source or self.preflight()
        config = parity.sealed(parity.wanted(source.configuration, self.target), self.target)
        now = self.now()
        tags = lifecycle.clone_tags(self.target.name, source.id, CREATED, now, self.clone_extra_tags())
        self.before_clone(source)
        if self.target.cross_account:
            self.make_room(source)
        cluster = self.changes.make(
            f"create clone {self.today} of {source.id} (copy-on-write) with writer "
            f"{lifecycle.instance_name(self.today)} ({self.target.instance_class})"
            + (f", sealed until masked (security groups {','.join(config.security_group_ids)})" if self.target.mask else ""),
            lambda: self._restore(source, config, tags, now),
            pretend=lambda: self._stand_in(source, config, tags),
        )
        self._finish(cluster)
        return cluster

    def _lost_by_hand(self, record):
        """Whether today's clone became usable and was then deleted outside django-devdb, leaving nothing to use:
        no ready or connected clone, the name pointing at none of this target's. Said; it is made again."""
        if history.never_ready(self.today) or self.in_state(READY, CONNECTED):
            return False
        if self._clone_for(self.aws.record_value(self.target.zone_id, self.target.record_name)):
            return False
        self.reporter.warning("today's clone %s was %s and no longer exists (deleted outside django-devdb?): "
                              "cloning again", self.today, record.state)
        return True

    def make_room(self, source):
        """AWS allows one clone of a cluster shared from another account per account: delete the previous
        clone (connected or not) and wait until it is gone, before the restore. The stable name points at
        nothing usable from then until today's clone is connected: the outage README and status state."""
        for cluster in sorted(self.clones.values(), key=self._age_key):
            if cluster.id == self.today:
                continue
            self.reporter.warning(
                "%s is shared from another account and AWS allows one clone of it per account: deleting %s before "
                "restoring %s; %s is unusable until %s is connected", self.target.source_cluster, cluster.id,
                self.today, self.target.record_name, self.today)
            if self.state(cluster) != ABORTED:
                self.set_state(cluster, ABORTED, message=f"deleted to make room for {self.today} (one cross-account clone)")
            if not self._delete(cluster, 0, name_may_point=True):
                raise CloneFailed(f"{cluster.id} could not be deleted, so {self.today} cannot be restored "
                                  f"({source.id} is shared from another account: one clone of it per account)")
            self.changes.step(f"wait until {cluster.id} is gone", lambda cluster=cluster: self._wait_gone(cluster),
                              planned=True)

    def _wait_gone(self, cluster):
        deadline = self.now() + timedelta(seconds=DELETE_TIMEOUT)

        def check():
            try:
                return False, self.aws.cluster(cluster.id, instances=False).status
            except NotFound:
                return True, "deleted"

        if self._wait(f"{cluster.id} to be deleted", check, deadline) is None:
            raise CloneFailed(f"{cluster.id} was not deleted within {DELETE_TIMEOUT}s; {self.today} is restored "
                              "once it is gone (re-run)")
        return True

    def _stand_in(self, source, config, tags):
        """What a dry run takes the restored clone to be: made with `config` but no IAM roles (a restore
        adds none), no instances yet, available by the time it is used."""
        cluster = Cluster(id=self.today, arn="", status=AVAILABLE, endpoint=None, port=source.port,
                          engine=source.engine, engine_version=source.engine_version, tags=dict(tags),
                          created=self.now(), config=replace(config, roles=()))
        self.clones[cluster.id] = cluster
        return cluster

    def clone_extra_tags(self, cluster=None):
        """Tags a clone (and its writer) carries besides the lifecycle ones; a branch adds its own."""
        return dict(self.target.extra_tags)

    def before_clone(self, source):
        """Checks right before the restore (preflight.py); a branch checks the quota its own way."""
        preflight.before_clone(self.aws, self.target, source, clones=self.clones, reporter=self.reporter)
        preflight.warn_extended_support(self.target, source, self.reporter, self.now())

    def _restore(self, source, config, tags, now):
        serverless = None
        if self.target.serverless:
            serverless = (self.target.serverless_min_acu, self.target.serverless_max_acu,
                          self.target.serverless_seconds_until_auto_pause)
        # AWS unreachable or failing (Unavailable) is retried until READY_TIMEOUT: a retry after a lost
        # response finds the clone made (AlreadyExists, below).
        deadline = now + timedelta(seconds=self.target.ready_timeout)
        try:
            cluster = self._when_allowed(f"AWS to accept the restore of {self.today}", lambda: self.aws.restore_clone(
                cluster_id=self.today, source_id=self.target.source_cluster, tags=tags, config=config,
                kms_key_id=self.target.kms_key_id, engine_lifecycle_support=self.target.engine_lifecycle_support,
                serverless=serverless,
            ), deadline)
        except AlreadyExists:
            # A retry after a lost response: the first attempt made it. Carry on only if it is ours.
            cluster = self.aws.cluster(self.today)
            if not lifecycle.is_ours(cluster.tags, self.target.name):
                raise
        cluster.tags.update(tags)
        self.clones[cluster.id] = cluster
        self.outcome.created.append(cluster.id)
        self._mirror(cluster, CREATED, now, message=f"restored from {source.id} (copy-on-write)")
        return cluster

    def _finish(self, cluster):
        """Add the writer instance (once AWS allows it: the cluster is available) and finish the tags."""
        writer_id = self.writer_id(cluster)
        has_writer = any(i.id == writer_id for i in cluster.instances)
        if not has_writer and self.state(cluster) == CREATED:
            self.changes.make(f"create writer instance {writer_id} ({self.target.instance_class}) in {cluster.id}",
                              lambda: self._create_writer(cluster, writer_id))
        elif not has_writer and self.state(cluster) in (READY, CONNECTED):
            self.repair_writer(cluster)
        self.reconcile_instances(cluster)

    def repair_writers(self):
        """Every ready or connected clone has its writer again (deleted by hand: said, and created again)."""
        for cluster in self.in_state(READY, CONNECTED):
            if cluster.status != "deleting" and not any(i.id == self.writer_id(cluster) for i in cluster.instances):
                self.repair_writer(cluster)

    def repair_writer(self, cluster):
        """Create the missing writer of a ready or connected clone again, with the clone's tags; CloneFailed
        (the run exits 1) when AWS refuses it. The clone itself is left as it is."""
        writer_id = self.writer_id(cluster)
        self.reporter.warning("%s has no writer instance %s (deleted by hand?): creating it again", cluster.id, writer_id)
        self.changes.make(f"create writer instance {writer_id} ({self.target.instance_class}) in {cluster.id} again",
                          lambda: self._create_writer_again(cluster, writer_id))

    def _create_writer_again(self, cluster, writer_id):
        timeout = self.target.ready_timeout
        deadline = self.now() + timedelta(seconds=timeout)
        tags = {**self.clone_extra_tags(cluster), **{k: v for k, v in cluster.tags.items() if k.startswith("devdb:")}}
        try:
            self._wait_cluster_available(cluster, deadline, timeout)
            instance = self._when_allowed(f"{cluster.id} to accept its writer", lambda: self.aws.create_writer(
                instance_id=writer_id, cluster_id=cluster.id, instance_class=self.target.instance_class,
                engine=(self._source.engine if self._source else None) or cluster.engine, tags=tags,
                publicly_accessible=self.target.publicly_accessible, parameter_group=self.target.db_parameter_group or (
                    self._source.configuration.writer_parameter_group if self._source else None)), deadline)
        except AlreadyExists:
            return
        except (ProbeError, AwsError) as exc:
            raise CloneFailed(f"{cluster.id} has no writer instance and {writer_id} could not be created again: {exc}") from None
        cluster.instances.append(instance)
        history.note(cluster.id, self.now(), f"writer {writer_id} created again (it was missing)")

    def _create_writer(self, cluster, writer_id):
        """AWS: DB instances can be created only once the restored cluster is available. A clone that
        fails, or whose writer AWS rejects, is aborted (so that clean removes it) with the reason."""
        timeout = self.target.ready_timeout
        deadline = self.since(cluster) + timedelta(seconds=timeout)
        source_id = cluster.tags.get(lifecycle.TAG_SOURCE, self.target.source_id)
        tags = lifecycle.clone_tags(self.target.name, source_id, CREATED, self.since(cluster), self.clone_extra_tags(cluster))
        engine = (self._source.engine if self._source else None) or cluster.engine
        parameter_group = self.target.db_parameter_group or (
            self._source.configuration.writer_parameter_group if self._source else None)
        try:
            self._wait_cluster_available(cluster, deadline, timeout)
            instance = self._when_allowed(
                f"{cluster.id} to accept its writer",
                lambda: self.aws.create_writer(
                    instance_id=writer_id, cluster_id=cluster.id, instance_class=self.target.instance_class,
                    engine=engine, tags=tags, publicly_accessible=self.target.publicly_accessible,
                    parameter_group=parameter_group,
                ),
                deadline,
            )
        except AlreadyExists:  # a retry after a lost response
            instance = next(i for i in self.aws.instances([cluster.id]) if i.id == writer_id)
        except ProbeError as exc:
            self._abort_failed(cluster, str(exc))
        except AwsError as exc:
            self._abort_failed(cluster, f"writer {writer_id} could not be created: {exc}")
        cluster.instances.append(instance)
