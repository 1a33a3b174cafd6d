"""clone / promote / connect / clean / refresh for one target: idempotent and resumable.

AWS tags are the source of truth. Every step starts from what the tags (and the live DNS record)
say, so a run killed at any moment and started again finishes the same job. Destructive steps
re-read the facts they depend on right before acting. The engine never touches the source cluster.
"""

import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from . import flavours, history, lifecycle, parity, preflight, probes, signals
from .aws import AlreadyExists, NotFound, NotNow, has_failed
from .errors import AwsError, CloneFailed, ConfigError, DevdbError
from .lifecycle import ABORTED, CONNECTED, CREATED, DELETED, READY, TAG_STATE, TAG_STATE_SINCE
from .output import Reporter

INSYNC_TIMEOUT = 600
DELETE_TIMEOUT = 3600
STOPPED = "stopped"
DELETING = "deleting"
RESETTING = "resetting-master-credentials"


class Clock:
    """Real time. Tests pass a fake with the same two methods."""

    def now(self):
        return datetime.now(timezone.utc)

    def sleep(self, seconds):
        time.sleep(seconds)


@dataclass
class Outcome:
    """What one command did (or, with --dry-run, would do) for one target."""

    target: str
    actions: list = field(default_factory=list)
    connected: str | None = None
    points_at: str | None = None
    created: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0

    def as_dict(self):
        return {"target": self.target, "actions": self.actions, "created": self.created, "deleted": self.deleted,
                "connected": self.connected, "record_points_at": self.points_at, "error": self.error}


class Engine:
    def __init__(self, target, gateway, settings, *, clock=None, reporter=None, dry_run=False, heartbeat=None):
        self.target = target
        self.aws = gateway
        self.settings = settings
        self.clock = clock or Clock()
        self.reporter = reporter or Reporter(target.name)
        self.dry_run = dry_run
        self.heartbeat = heartbeat or (lambda: None)
        self.outcome = Outcome(target.name)
        self.clones = {}  # cluster id -> aws.Cluster, this target's clones as last seen
        self._source = None
        self._zone = None

    # --- facts ---------------------------------------------------------------------------------

    def now(self):
        return self.clock.now()

    @property
    def today(self):
        return lifecycle.clone_name(self.target.clone_prefix, lifecycle.utc_day(self.now()))

    def preflight(self, source=True):
        """Read-only checks that must pass before the first change: zone, record name, source."""
        try:
            zone = self.aws.hosted_zone(self.target.zone_id)
        except NotFound:
            raise ConfigError(f"HOSTED_ZONE_ID: hosted zone {self.target.zone_id} does not exist") from None
        if not _in_zone(self.target.record_name, zone.name):
            raise ConfigError(
                f"RECORD_NAME: {self.target.record_name} is not inside hosted zone {zone.id} ({zone.name.rstrip('.')})"
            )
        self._zone = zone
        if not source:
            return None
        preflight.check_stable_name(self.aws, self.target)
        try:
            source = self.aws.source(self.target.source_cluster)
        except NotFound:
            source = None
        return self.check_source(source)

    def check_source(self, source=None):
        """The source as read (by preflight or lookup), or a ConfigError naming what is wrong with it."""
        source = source or self._source
        if source is None:
            raise ConfigError(f"SOURCE_CLUSTER: cluster {self.target.source_cluster} does not exist")
        if source.engine not in flavours.ENGINES:
            raise ConfigError(f"SOURCE_CLUSTER: {source.id} is {source.engine}, not {flavours.SUPPORTED}")
        if self.target.master_password_env and not os.environ.get(self.target.master_password_env):
            raise ConfigError(f"MASTER_PASSWORD_ENV: environment variable {self.target.master_password_env} is not set")
        if self._source is None or self._source.id != source.id:
            self._source = source
        return self._source

    def _is_source(self, cluster):
        return cluster.id.lower() == self.target.source_id or cluster.arn == self.target.source_cluster

    def lookup(self, also=()):
        """Find this target's clones (by tag, plus today's name and `also`) and read the source with its
        writer, in three AWS calls."""
        ids = {i.lower() for i in self.aws.tagged_cluster_ids(self.target.name)} | {self.today}
        ids |= {i.lower() for i in also} | {self.target.source_cluster}
        protected = self.settings.source_clusters
        self.clones = {}
        for cluster in self.aws.clusters(ids):
            if self._is_source(cluster):
                self._source = cluster
                continue
            if not lifecycle.is_ours(cluster.tags, self.target.name):
                if cluster.id == self.today:
                    raise DevdbError(
                        f"cluster {cluster.id} exists but is not a django-devdb clone of target "
                        f"{self.target.name!r}; refusing to touch it (rename the target's CLONE_PREFIX or the cluster)"
                    )
                continue
            if cluster.id.lower() in protected:
                self.reporter.warning("%s is a source cluster but carries django-devdb tags; ignoring it", cluster.id)
                continue
            self.clones[cluster.id] = cluster
        return self.clones

    def state(self, cluster):
        return cluster.tags.get(TAG_STATE, "")

    def since(self, cluster):
        return lifecycle.parse_time(cluster.tags.get(TAG_STATE_SINCE)) or cluster.created or self.now()

    def in_state(self, *states):
        return sorted((c for c in self.clones.values() if self.state(c) in states), key=self._age_key)

    def _age_key(self, cluster):
        day = lifecycle.clone_day(cluster.id, self.target.clone_prefix)
        return (day or lifecycle.utc_day(cluster.created or self.since(cluster)), cluster.created or self.since(cluster), cluster.id)

    def writer_id(self, cluster):
        return lifecycle.instance_name(cluster.id)

    def points_at(self):
        """The clone the stable name points at now (read live), as (value, cluster or None)."""
        value = self.aws.record_value(self.target.zone_id, self.target.record_name)
        self.outcome.points_at = value
        return value, self._clone_for(value)

    def _clone_for(self, value):
        if not value:
            return None
        for cluster in self.clones.values():
            if _cluster_serves(cluster, value):
                return cluster
        return None

    # --- changes -------------------------------------------------------------------------------

    def _did(self, text):
        """Note a change: logged when made; in a dry run only listed (the command prints the list)."""
        if self.dry_run:
            self.outcome.actions.append("would " + text)
        else:
            self.outcome.actions.append(text)
            self.reporter.info(text)

    def _ours(self, instance, cluster):
        return lifecycle.is_ours(instance.tags, self.target.name) or instance.id == self.writer_id(cluster)

    def set_state(self, cluster, new, *, rollback=False, message="", error=None):
        """Tag cluster and its instances with `new` (one TagResources call) and mirror it; the one way
        states change."""
        old = self.state(cluster)
        lifecycle.check_move(cluster.id, old, new, rollback=rollback)
        self._did(f"tag {cluster.id} {new}" + (f" ({message})" if message else ""))
        if self.dry_run:
            return
        now = self.now()
        tags = lifecycle.state_tags(new, now)
        instances = [i for i in cluster.instances if self._ours(i, cluster)]
        self.aws.tag([cluster.arn] + [i.arn for i in instances], tags)
        for resource in [cluster] + instances:
            resource.tags.update(tags)
        self._mirror(cluster, new, now, message=message, error=error)

    def _mirror(self, cluster, state, at, message="", error=None, created_at=None):
        history.mirror(
            target=self.target.name, cluster_id=cluster.id, state=state, at=at,
            source=cluster.tags.get(lifecycle.TAG_SOURCE, self.target.source_cluster),
            instance_id=self.writer_id(cluster), endpoint=cluster.endpoint or "", message=message, error=error,
            created_at=created_at,
        )

    def reconcile_instances(self, cluster):
        """Give the instances the cluster's state tags when a killed run tagged only the cluster."""
        wanted = {k: cluster.tags[k] for k in (TAG_STATE, TAG_STATE_SINCE) if k in cluster.tags}
        for instance in cluster.instances:
            if not self._ours(instance, cluster):
                continue
            missing = {k: v for k, v in wanted.items() if instance.tags.get(k) != v}
            if not lifecycle.is_ours(instance.tags, self.target.name):
                missing = {k: v for k, v in cluster.tags.items() if k.startswith("devdb:")}
            if missing:
                self._did(f"finish tagging instance {instance.id} {wanted.get(TAG_STATE)}")
                if not self.dry_run:
                    self.aws.tag([instance.arn], missing)
                    instance.tags.update(missing)

    # --- clone ---------------------------------------------------------------------------------

    def clone(self):
        """Create today's clone, or finish the one that exists. Returns it (None in a dry run)."""
        existing = self.clones.get(self.today)
        if existing:
            self._finish(existing)
            return existing
        record = history.find(self.today)
        if record is not None and record.target == self.target.name:
            # Made and deleted today (it failed and was cleaned): one clone per target per day.
            reason = f" ({record.last_error})" if record.last_error else ""
            raise CloneFailed(f"today's clone {self.today} was already made and is {record.state}{reason}; "
                              "the next one is made tomorrow")
        source = self._source or self.preflight()
        config = parity.wanted(source.configuration, self.target)
        now = self.now()
        tags = lifecycle.clone_tags(self.target.name, source.id, CREATED, now, dict(self.target.extra_tags))
        preflight.before_clone(self.aws, self.target, source, clones=self.clones, reporter=self.reporter)
        self._did(f"create clone {self.today} of {source.id} (copy-on-write) with writer {lifecycle.instance_name(self.today)} ({self.target.instance_class})")
        if self.dry_run:
            return None
        serverless = None
        if self.target.serverless:
            serverless = (self.target.serverless_min_acu, self.target.serverless_max_acu,
                          self.target.serverless_seconds_until_auto_pause)
        try:
            cluster = self.aws.restore_clone(
                cluster_id=self.today, source_id=self.target.source_cluster, tags=tags, config=config,
                kms_key_id=self.target.kms_key_id, engine_lifecycle_support=self.target.engine_lifecycle_support,
                serverless=serverless,
            )
        except AlreadyExists:
            # A retry after a lost response: the first attempt made it. Carry on only if it is ours.
            cluster = self.aws.cluster(self.today)
            if not lifecycle.is_ours(cluster.tags, self.target.name):
                raise
        cluster.tags.update(tags)
        self.clones[cluster.id] = cluster
        self.outcome.created.append(cluster.id)
        self._mirror(cluster, CREATED, now, message=f"restored from {source.id} (copy-on-write)")
        self._finish(cluster)
        return cluster

    def _finish(self, cluster):
        """Add the writer instance (once AWS allows it: the cluster is available) and finish the tags."""
        writer_id = self.writer_id(cluster)
        has_writer = any(i.id == writer_id for i in cluster.instances)
        if not has_writer and self.state(cluster) == CREATED:
            self._did(f"create writer instance {writer_id} ({self.target.instance_class}) in {cluster.id}")
            if not self.dry_run:
                self._create_writer(cluster, writer_id)
        elif not has_writer and self.state(cluster) in (READY, CONNECTED):
            self.reporter.warning("%s has no writer instance %s (deleted by hand?)", cluster.id, writer_id)
        self.reconcile_instances(cluster)

    def _create_writer(self, cluster, writer_id):
        """AWS: DB instances can be created only once the restored cluster is available. A clone that
        fails, or whose writer AWS rejects, is aborted (so that clean removes it) with the reason."""
        timeout = self.target.ready_timeout
        deadline = self.since(cluster) + timedelta(seconds=timeout)
        source_id = cluster.tags.get(lifecycle.TAG_SOURCE, self.target.source_id)
        tags = lifecycle.clone_tags(self.target.name, source_id, CREATED, self.since(cluster), dict(self.target.extra_tags))
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
        except probes.ProbeError as exc:
            self._abort_failed(cluster, str(exc))
        except AwsError as exc:
            self._abort_failed(cluster, f"writer {writer_id} could not be created: {exc}")
        cluster.instances.append(instance)

    def _wait_cluster_available(self, cluster, deadline, timeout):
        """Poll the cluster alone (one call a poll) until available; ProbeError if it failed or timed out."""

        def check():
            self._refresh_cluster(cluster, instances=False)
            if has_failed(cluster.status):
                raise probes.ProbeError(f"AWS reports cluster {cluster.status}")
            if cluster.status == STOPPED:
                self._start(cluster)
            return cluster.status == probes.AVAILABLE, f"cluster {cluster.status}"

        if cluster.status == probes.AVAILABLE:
            return
        if self._wait(f"{cluster.id} to be available", check, deadline) is None:
            raise probes.ProbeError(f"did not become available within READY_TIMEOUT ({timeout}s)")

    def _start(self, cluster):
        """Start a stopped clone (someone stopped it to save costs) so that it can be used."""
        self._did(f"start {cluster.id} (it is stopped)")
        try:
            cluster.status = self.aws.start_cluster(cluster.id).status
        except NotNow:  # already starting: keep waiting
            pass

    def _when_allowed(self, what, change, deadline):
        """Make a change AWS refuses while the resource is busy (NotNow): retry it until the deadline.

        Returns what the change returned; raises the last refusal at the deadline.
        """
        try:
            return change()
        except NotNow as exc:
            outcome = {"refusal": exc}
        self.heartbeat()
        self.clock.sleep(max(0.01, min(self.settings.poll_initial, (deadline - self.now()).total_seconds())))

        def attempt():
            try:
                outcome["result"] = change()
                return True, "accepted"
            except NotNow as exc:
                outcome["refusal"] = exc
                return False, f"refused ({str(exc).rsplit(': ', 1)[-1]})"

        if self._wait(what, attempt, deadline) is None:
            raise outcome["refusal"]
        return outcome["result"]

    # --- ready ---------------------------------------------------------------------------------

    def wait_ready(self, cluster, timeout=None):
        """Wait until `cluster` is usable, prepare it, tag it ready. CloneFailed (and aborted) if not."""
        timeout = timeout or self.target.ready_timeout
        deadline = self.since(cluster) + timedelta(seconds=timeout)
        try:
            self._wait_available(cluster, deadline, timeout)
            self._prepare(cluster, deadline, timeout)
        except probes.ProbeError as exc:
            self._abort_failed(cluster, str(exc))
        usable = f"usable ({self.target.readiness_probe} probe)"
        likeness = self.parity(cluster)
        self.set_state(cluster, READY, message=f"{usable}; {likeness}" if likeness else usable, error="")
        signals.send(signals.clone_ready, target=self.target.name, cluster_id=cluster.id, endpoint=cluster.endpoint)

    def parity(self, cluster):
        """How `cluster` compares with its source (a parity line), or None when the source was not read."""
        source = self._source
        if source is None or cluster.tags.get(lifecycle.TAG_SOURCE, source.id).lower() != source.id.lower():
            return None
        return parity.line(cluster.configuration, source, self.target)

    def _abort_failed(self, cluster, reason):
        self.set_state(cluster, ABORTED, message=f"failed: {reason}", error=reason)
        raise CloneFailed(f"clone {cluster.id} aborted: {reason}")

    def _refresh_cluster(self, cluster, instances=True):
        fresh = self.aws.cluster(cluster.id, instances=instances)
        cluster.status, cluster.endpoint, cluster.port = fresh.status, fresh.endpoint, fresh.port
        cluster.config, cluster.writer_member, cluster.pending = fresh.config, fresh.writer_member, fresh.pending
        if instances:
            cluster.instances = fresh.instances
        return cluster

    def _wait_available(self, cluster, deadline, timeout):
        """Poll cluster and writer (two calls a poll) until both are available; a status that means the
        clone failed ends the wait at once, a stopped clone is started."""
        writer_id = self.writer_id(cluster)

        def check():
            self._refresh_cluster(cluster)
            if not any(i.id == writer_id for i in cluster.instances):
                raise probes.ProbeError(f"writer instance {writer_id} does not exist")
            if cluster.status == STOPPED:
                self._start(cluster)
            return probes.status_ready(cluster, writer_id)

        if self._wait(f"{cluster.id} to be available", check, deadline) is None:
            self._abort_failed(cluster, f"did not become available within READY_TIMEOUT ({timeout}s)")

    def _prepare(self, cluster, deadline, timeout):
        """The source's IAM roles, new master password, SQL probe, post-clone scripts: all before the
        clone counts as ready."""
        self._add_roles(cluster, deadline)
        if self.target.master_password_env:
            self._new_master_password(cluster, deadline, timeout)
        connect_timeout = self.settings.sql_connect_timeout
        if self.target.readiness_probe == "sql":
            last = {"reason": ""}

            def check():
                try:
                    probes.sql_ready(cluster.endpoint, timeout=connect_timeout, port=cluster.port, engine=cluster.engine)
                    return True, "SELECT 1 ok"
                except probes.ProbeError as exc:  # refused logins included: a new password may lag
                    last["reason"] = str(exc)
                    return False, f"sql probe: {exc}"

            if self._wait(f"{cluster.id} to accept the app's login", check, deadline) is None:
                self._abort_failed(cluster, f"sql probe did not succeed within READY_TIMEOUT ({timeout}s): {last['reason']}")
        for script in self.target.post_clone_sql:
            self._did(f"run {script} on {cluster.id}")
            self._run_script(cluster, script, deadline, timeout)
            history.note(cluster.id, self.now(), f"ran {script}")

    def _run_script(self, cluster, script, deadline, timeout):
        """Run one post-clone script; a refused login (nothing ran yet) is retried until the deadline."""
        last = {"reason": ""}

        def attempt():
            try:
                probes.run_script(cluster.endpoint, script, timeout=self.settings.sql_connect_timeout, port=cluster.port,
                                  engine=cluster.engine)
                return True, "done"
            except probes.LoginRefused as exc:
                last["reason"] = str(exc)
                return False, f"login: {exc}"

        if self._wait(f"{cluster.id} to accept the login for {script}", attempt, deadline) is None:
            raise probes.ProbeError(f"{script}: login refused until READY_TIMEOUT ({timeout}s): {last['reason']}")

    def _add_roles(self, cluster, deadline):
        """Associate the source's IAM roles that the clone lacks (a restore does not copy them)."""
        if self._source is None or self.parity(cluster) is None:
            return
        have = {(arn.lower(), feature.lower()) for arn, feature in cluster.config.roles}
        for arn, feature in self._source.config.roles:
            if (arn.lower(), feature.lower()) in have:
                continue
            self._did(f"add IAM role {arn} ({feature or 'no feature'}) to {cluster.id}, as on {self._source.id}")
            try:
                self._when_allowed(f"{cluster.id} to accept IAM role {arn}",
                                   lambda: self.aws.add_role(cluster.id, arn, feature), deadline)
            except AlreadyExists:
                pass
            except AwsError as exc:  # the clone works without it; its parity line shows the difference
                self.reporter.warning("%s: IAM role %s not added: %s", cluster.id, arn, exc)
                history.note(cluster.id, self.now(), f"IAM role {arn} not added: {exc}")
                continue
            cluster.config = replace(cluster.config, roles=tuple(sorted(cluster.config.roles + ((arn, feature),))))

    def _new_master_password(self, cluster, deadline, timeout):
        """Set the new master password, then wait until AWS has applied it: the cluster goes through
        resetting-master-credentials (or shows the password in PendingModifiedValues) and is available
        again. Right after the call AWS may still say 'available': that is not done yet."""
        self._did(f"set a new master password on {cluster.id} (from ${self.target.master_password_env})")
        if self.dry_run:
            return
        password = os.environ[self.target.master_password_env]
        answered = self._when_allowed(f"{cluster.id} to accept a new master password",
                                      lambda: self.aws.set_master_password(cluster.id, password), deadline)
        history.note(cluster.id, self.now(), "master password replaced")
        asked_at = self.now()
        seen = {"reset": _resetting(answered)}

        def check():
            self._refresh_cluster(cluster)
            busy = _resetting(cluster)
            seen["reset"] = seen["reset"] or busy
            ready, status = probes.status_ready(cluster, self.writer_id(cluster))
            # Never seen resetting: take 'available' as done only once a full poll interval has passed.
            settled = seen["reset"] or (self.now() - asked_at).total_seconds() >= self.settings.poll_max
            return ready and not busy and settled, status

        if self._wait(f"{cluster.id} to apply the new password", check, deadline) is None:
            self._abort_failed(cluster, f"did not apply the new master password within READY_TIMEOUT ({timeout}s)")

    def _wait(self, what, check, deadline):
        """Poll check() -> (done, status) with capped exponential backoff until done or deadline.

        Returns the last status, or None at the deadline. Renews the lease between polls.
        """
        start = self.now()
        delay = self.settings.poll_initial
        while True:
            done, status = check()
            now = self.now()
            self.reporter.progress(what, status, (now - start).total_seconds())
            if done:
                self.reporter.done_waiting()
                return status
            if now >= deadline:
                self.reporter.done_waiting()
                return None
            self.heartbeat()
            self.clock.sleep(max(0.01, min(delay, (deadline - now).total_seconds())))
            delay = min(delay * self.settings.poll_factor, self.settings.poll_max)

    def promote(self, timeout=None):
        """Tag ready the created clones that are usable now; abort those past READY_TIMEOUT. No waiting."""
        timeout = timeout or self.target.ready_timeout
        for cluster in self.in_state(CREATED):
            deadline = self.since(cluster) + timedelta(seconds=timeout)
            if self.dry_run:
                self._did(f"check {cluster.id} and tag it ready if usable (aborted if past READY_TIMEOUT)")
                continue
            self._refresh_cluster(cluster)
            if cluster.status == STOPPED:
                self._start(cluster)  # promoted by a later run once it is up
            try:
                ready, status = probes.status_ready(cluster, self.writer_id(cluster))
            except probes.ProbeError as exc:
                self._abort_quietly(cluster, str(exc))
                continue
            if ready:
                try:
                    self.wait_ready(cluster, timeout)
                except CloneFailed as exc:
                    self.reporter.warning("%s", exc)
            elif self.now() >= deadline:
                self._abort_quietly(cluster, f"did not become ready within READY_TIMEOUT ({timeout}s): {status}")

    def _abort_quietly(self, cluster, reason):
        self.set_state(cluster, ABORTED, message=f"failed: {reason}", error=reason)
        self.reporter.warning("clone %s aborted: %s", cluster.id, reason)

    # --- connect -------------------------------------------------------------------------------

    def connect(self, to=None, planned=None):
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
        elif planned:
            chosen = None
            self._did(f"point {self.target.record_name} at {planned} (now {value or 'unset'})")
            for cluster in self.in_state(CONNECTED, READY):
                self._did(f"tag {cluster.id} aborted (superseded by {planned})")
                if not self.target.keep_aborted:
                    self._did(f"delete {cluster.id} once the grace of {self.target.clean_grace}s has passed")
        else:
            ready = self.in_state(READY)
            chosen = ready[-1] if ready else None
            if chosen is not None and not self._usable_now(chosen):
                self.reporter.warning("not connecting %s: it is %s", chosen.id, chosen.status)
                chosen = None
        if chosen is not None and not (chosen is pointed and self.state(chosen) == CONNECTED):
            self._move_name(chosen, value, rollback=bool(to))
        connected = self.in_state(CONNECTED)
        self.outcome.connected = connected[-1].id if connected else None
        return chosen

    def _usable_now(self, cluster):
        """Whether the name may move to `cluster` now; a stopped clone is started and waited for first."""
        if cluster.status not in (STOPPED, "starting"):
            return cluster.status == probes.AVAILABLE
        if self.dry_run:
            self._did(f"start {cluster.id} (it is {cluster.status}) and wait until it is available")
            return True
        timeout = self.target.ready_timeout
        try:
            self._wait_cluster_available(cluster, self.now() + timedelta(seconds=timeout), timeout)
        except probes.ProbeError:
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
        record = self.target.record_name
        self._did(f"point {record} at {cluster.id} ({cluster.endpoint}; was {old_value or 'unset'})")
        if not self.dry_run:
            change_id, status = self.aws.upsert_cname(
                self.target.zone_id, record, cluster.endpoint, self.target.record_ttl,
                comment=f"django-devdb: {self.target.name} -> {cluster.id}",
            )
            deadline = self.now() + timedelta(seconds=INSYNC_TIMEOUT)
            check = lambda: (lambda s: (s == "INSYNC", s))(self.aws.change_status(change_id))  # noqa: E731
            if status != "INSYNC" and self._wait(f"{record} change {change_id} to be INSYNC", check, deadline) is None:
                raise DevdbError(f"Route53 change {change_id} for {record} was not INSYNC within {INSYNC_TIMEOUT}s; re-run to finish")
            self.outcome.points_at = (cluster.endpoint or "").lower()
        previous = [c.id for c in self.in_state(CONNECTED) if c is not cluster]
        self.set_state(cluster, CONNECTED, rollback=rollback or self.state(cluster) == ABORTED,
                       message=f"{record} points here" + (" (rollback)" if rollback else ""))
        self._abort_superseded(cluster, older_ready=not rollback)
        if not self.dry_run:
            signals.send(signals.clone_connected, target=self.target.name, cluster_id=cluster.id,
                                         endpoint=cluster.endpoint, record_name=record, previous=previous)

    def _abort_superseded(self, connected, older_ready=True):
        for cluster in self.in_state(CONNECTED):
            if cluster is not connected:
                self.set_state(cluster, ABORTED, message=f"superseded by {connected.id}")
        if older_ready:
            for cluster in self.in_state(READY):
                if self._age_key(cluster) < self._age_key(connected):
                    self.set_state(cluster, ABORTED, message=f"superseded by {connected.id}")

    # --- clean ---------------------------------------------------------------------------------

    def keep(self):
        """The newest KEEP_ABORTED aborted clones, kept for rollback: the most recently aborted (i.e.
        most recently live) first; clones that failed before becoming ready are no rollback target."""
        if not self.target.keep_aborted:
            return set()
        candidates = [c for c in self.in_state(ABORTED) if not history.never_ready(c.id)]
        candidates.sort(key=lambda c: (self.since(c), self._age_key(c)))
        return {c.id for c in candidates[-self.target.keep_aborted:]}

    def deletable(self, grace):
        keep = self.keep()
        cutoff = self.now() - timedelta(seconds=grace)
        return [c for c in self.in_state(ABORTED) if c.id not in keep and self.since(c) <= cutoff]

    def wait_grace(self, grace):
        """Sleep until the clones aborted within the last `grace` seconds may be deleted."""
        keep = self.keep()
        pending = [self.since(c) + timedelta(seconds=grace) for c in self.in_state(ABORTED) if c.id not in keep]
        until = max((t for t in pending if t > self.now()), default=None)
        if until is None:
            return
        if self.dry_run:
            self._did(f"wait out the grace of {grace}s (until {lifecycle.format_time(until)})")
            return
        self._wait(f"the grace of {grace}s (clients to drop the old address)",
                   lambda: (self.now() >= until, f"until {lifecycle.format_time(until)}"), until)

    def clean(self, grace=None):
        grace = self.target.clean_grace if grace is None else grace
        deleted = []
        for cluster in self.deletable(grace):
            if self._delete(cluster, grace):
                deleted.append(cluster.id)
        return deleted

    def _delete(self, cluster, grace):
        """Delete one aborted clone's instances, then the clone; re-checking every rule first."""
        try:
            fresh = self.aws.cluster(cluster.id)
        except NotFound:
            self._forget(cluster, "cluster no longer exists")
            return False
        problem = self._deletion_veto(fresh, grace)
        if problem:
            self.reporter.warning("not deleting %s: %s", cluster.id, problem)
            return False
        if fresh.status == DELETING:  # a killed run already asked AWS to delete it
            self._forget(fresh, "deleted (AWS is deleting it)")
            self.outcome.deleted.append(cluster.id)
            return True
        for instance in fresh.instances:
            if not self._ours(instance, fresh):
                self.reporter.warning("not deleting %s: instance %s is not a django-devdb instance of this target",
                                      cluster.id, instance.id)
                return False
        if fresh.status == STOPPED:
            # Its instances cannot be deleted while it is stopped: start it, a later run deletes it.
            self.reporter.warning("not deleting %s yet: it is stopped; starting it so that a later run can", cluster.id)
            if not self.dry_run:
                self._start(fresh)
            return False
        self.reconcile_instances(fresh)
        for instance in fresh.instances:
            if instance.status != DELETING:
                self._did(f"delete instance {instance.id}")
                if not self.dry_run:
                    instance.status = self._delete_instance(instance)
        if self.dry_run:
            self._did(f"delete clone {cluster.id} (aborted since {lifecycle.format_time(self.since(fresh))})")
            return True
        deadline = self.now() + timedelta(seconds=DELETE_TIMEOUT)
        if any(i.status != DELETING for i in fresh.instances):
            # AWS refused an instance (busy): retry until every instance is deleting or gone.
            def check():
                left = [i for i in self.aws.instances([cluster.id]) if i.status != DELETING]
                for instance in left:
                    instance.status = self._delete_instance(instance)
                left = [i for i in left if i.status != DELETING]
                return not left, ", ".join(f"{i.id} {i.status}" for i in left) or "all deleting"

            if self._wait(f"the instances of {cluster.id} to be deleting", check, deadline) is None:
                raise DevdbError(f"instances of {cluster.id} were not deleted within {DELETE_TIMEOUT}s; re-run to finish")
            # Time has passed: the name must still not point here.
            value, _ = self.points_at()
            if _cluster_serves(fresh, value):
                self.reporter.warning("not deleting %s: %s now points at it", cluster.id, self.target.record_name)
                return False
        # AWS accepts deleting the cluster once every instance is deleting: no need to wait until they are gone.
        self._did(f"delete clone {cluster.id} (aborted since {lifecycle.format_time(self.since(fresh))})")
        try:
            self._when_allowed(f"{cluster.id} to accept its deletion", lambda: self.aws.delete_cluster(cluster.id), deadline)
        except NotFound:
            pass
        self._forget(fresh, "deleted (SkipFinalSnapshot)")
        self.outcome.deleted.append(cluster.id)
        signals.send(signals.clone_deleted, target=self.target.name, cluster_id=cluster.id)
        return True

    def _delete_instance(self, instance):
        """Ask AWS to delete one instance; its status afterwards (DELETING once accepted or already so)."""
        try:
            self.aws.delete_instance(instance.id)
        except NotFound:
            return DELETING
        except NotNow as exc:
            return DELETING if "already being deleted" in str(exc).lower() else instance.status
        return DELETING

    def _deletion_veto(self, cluster, grace):
        """Why `cluster` must not be deleted now, or None. Reads the live DNS record."""
        if cluster.id in self.settings.source_clusters:
            return "it is a source cluster"
        if not lifecycle.is_ours(cluster.tags, self.target.name):
            return "it is not a django-devdb clone of this target"
        if self.state(cluster) != ABORTED:
            return f"it is {self.state(cluster) or 'untagged'}, not aborted"
        if self.since(cluster) > self.now() - timedelta(seconds=grace):
            return f"it was aborted less than {grace}s ago"
        value, _ = self.points_at()
        if _cluster_serves(cluster, value):
            return f"{self.target.record_name} points at it"
        return None

    def _forget(self, cluster, message):
        self.clones.pop(cluster.id, None)
        if not self.dry_run:
            history.mirror(target=self.target.name, cluster_id=cluster.id, state=DELETED, at=self.now(), message=message)

    # --- records -------------------------------------------------------------------------------

    def sync(self):
        """Make the records match the tags; records of clusters that are gone become deleted."""
        open_ids = list(history.open_records(self.target.name).values_list("cluster_id", flat=True))
        self.lookup(also=open_ids)
        for cluster in self.clones.values():
            state = self.state(cluster)
            if state in lifecycle.STATES and not self.dry_run:
                self._mirror(cluster, state, self.since(cluster), created_at=cluster.created)
        for cluster_id in open_ids:
            if cluster_id.lower() not in self.clones:
                self._did(f"record {cluster_id} as deleted (the cluster no longer exists)")
                if not self.dry_run:
                    history.mirror(target=self.target.name, cluster_id=cluster_id, state=DELETED, at=self.now(),
                                   message="cluster no longer exists (deleted outside django-devdb)")

    # --- the daily job -------------------------------------------------------------------------

    def refresh(self, grace=None, timeout=None):
        """clone -> wait until ready -> connect -> wait out the grace -> clean.

        When today's clone cannot be made or fails, what is ready is still connected and what is
        aborted still cleaned; then the run fails naming the cause.
        """
        self.preflight(source=False)
        preflight.check_stable_name(self.aws, self.target)  # before any change, not only before a clone
        self.sync()  # the lookup reads the source too
        self.check_source()
        for cluster in list(self.clones.values()):
            self.reconcile_instances(cluster)
        failure = None
        try:
            today = self.clone()
        except (CloneFailed, AwsError) as exc:
            failure, today = exc, None
            self.reporter.warning("%s", exc)
        planned = self.today if today is None and failure is None else None  # only in a dry run
        if today is not None and self.state(today) == CREATED:
            if self.dry_run:
                self._did(f"wait until {today.id} is ready")
                planned = today.id
            else:
                try:
                    self.wait_ready(today, timeout)
                except CloneFailed as exc:
                    failure = exc
        elif today is not None and self.state(today) == ABORTED:
            record = history.find(today.id)
            reason = (record.last_error if record else "") or "aborted"
            failure = CloneFailed(f"today's clone {today.id} is aborted ({reason}); a new one is made tomorrow")
        self.promote(timeout)
        self.connect(planned=planned)
        grace = self.target.clean_grace if grace is None else grace
        self.wait_grace(grace)
        self.clean(grace)
        if failure:
            raise failure
        return self.outcome

    def status(self):
        """This target's clones and where the name points, without changing anything."""
        self.preflight(source=False)
        self.lookup()
        value, pointed = self.points_at()
        clones = []
        for cluster in sorted(self.clones.values(), key=self._age_key):
            likeness = self.parity(cluster)
            clones.append({
                "cluster": cluster.id,
                "state": self.state(cluster),
                "state_since": cluster.tags.get(TAG_STATE_SINCE, ""),
                "status": cluster.status,
                "instances": [{"id": i.id, "status": i.status, "state": i.tags.get(TAG_STATE, "")} for i in cluster.instances],
                "endpoint": cluster.endpoint,
                "source": cluster.tags.get(lifecycle.TAG_SOURCE, ""),
                "live": cluster is pointed,
                "parity": likeness,
                "like_source": None if likeness is None else likeness.startswith("configured like "),
            })
        return {"target": self.target.name, "record_name": self.target.record_name, "points_at": value,
                "points_at_clone": pointed.id if pointed else None, "clones": clones}


def _resetting(cluster):
    return cluster.status == RESETTING or "MasterUserPassword" in cluster.pending


def _in_zone(record_name, zone_name):
    record = record_name.rstrip(".").lower()
    zone = zone_name.rstrip(".").lower()
    return record != zone and record.endswith("." + zone)


def _cluster_serves(cluster, value):
    """Whether a DNS value is one of this cluster's addresses."""
    if not value:
        return False
    value = value.rstrip(".").lower()
    if cluster.endpoint and value == cluster.endpoint.rstrip(".").lower():
        return True
    first_label = value.split(".", 1)[0]
    return first_label == cluster.id.lower() or first_label in {i.id.lower() for i in cluster.instances}
