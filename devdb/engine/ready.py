"""Make a created clone ready: the readiness steps, in order, then the ready tag.

A new step is one method of Readiness taking (cluster, deadline, timeout) and one line in
readiness_steps() that places it. A step raises ProbeError (or aborts the clone) to fail it.
"""

import os
from dataclasses import replace
from datetime import timedelta

from .. import history, probes, signals
from ..errors import AlreadyExists, AwsError, CloneFailed, NotFound, ProbeError
from ..lifecycle import CREATED, READY
from .waiting import STOPPED

RESETTING = "resetting-master-credentials"


class Readiness:
    """Wait until usable, prepare, tag ready; or abort with the reason."""

    def readiness_steps(self):
        """What a created clone goes through, in this order, before it counts as ready."""
        return [
            self._wait_available,
            self._add_roles,
            self._new_master_password,
            # With MASK the clone is sealed (only MASKING_SECURITY_GROUP_IDS reach it) from here ...
            self._mask,  # sealed.py: after the password is the clone's own, before anything else reads or writes data
            self._sql_probe,
            self._post_clone_scripts,  # on masked, verified data only
            self._migrate,
            self._unseal,  # ... to here: the app's groups only once all of the above passed
        ]

    def wait_ready(self, cluster, timeout=None):
        """Take `cluster` through the readiness steps, tag it ready. CloneFailed (and aborted) if not."""
        timeout = timeout or self.target.ready_timeout
        deadline = self.since(cluster) + timedelta(seconds=timeout)
        try:
            for step in self.readiness_steps():
                step(cluster, deadline, timeout)
        except ProbeError as exc:
            self._abort_failed(cluster, str(exc))
        except NotFound:
            raise  # deleted meanwhile: nothing to abort
        except AwsError as exc:
            # Refused for good (AccessDenied on ModifyDBCluster...), or AWS still unavailable at the deadline
            # (waits and busy-retries wait it out until then): aborted, so that clean deletes it.
            self._abort_failed(cluster, str(exc))
        usable = f"usable ({self.target.readiness_probe} probe)"
        likeness = self.parity(cluster)
        self.set_state(cluster, READY, message=f"{usable}; {likeness}" if likeness else usable, error="")
        self.changes.announce(signals.clone_ready, target=self.target.name, cluster_id=cluster.id,
                              endpoint=cluster.endpoint)

    def _wait_available(self, cluster, deadline, timeout):
        """Poll cluster and writer (two calls a poll) until both are available; a status that means the
        clone failed ends the wait at once, a stopped clone is started."""
        writer_id = self.writer_id(cluster)

        def check():
            self._refresh_cluster(cluster)
            if not any(i.id == writer_id for i in cluster.instances):
                raise ProbeError(f"writer instance {writer_id} does not exist")
            if cluster.status == STOPPED:
                self._start(cluster)
            return probes.status_ready(cluster, writer_id)

        if self.changes.step(None, lambda: self._wait(f"{cluster.id} to be available", check, deadline), planned=True) is None:
            self._abort_failed(cluster, f"did not become available within READY_TIMEOUT ({timeout}s)")

    def _sql_probe(self, cluster, deadline, timeout):
        """With READINESS_PROBE "sql": wait until the app's own login works and SELECT 1 answers."""
        if self.target.readiness_probe != "sql":
            return
        connect_timeout = self.settings.sql_connect_timeout
        last = {"reason": ""}

        def check():
            try:
                probes.sql_ready(cluster.endpoint, timeout=connect_timeout, port=cluster.port, engine=cluster.engine)
                return True, "SELECT 1 ok"
            except ProbeError as exc:  # refused logins included: a new password may lag
                last["reason"] = str(exc)
                return False, f"sql probe: {exc}"

        if self.changes.step(None, lambda: self._wait(f"{cluster.id} to accept the app's login", check, deadline),
                             planned=True) is None:
            self._abort_failed(cluster, f"sql probe did not succeed within READY_TIMEOUT ({timeout}s): {last['reason']}")

    def _post_clone_scripts(self, cluster, deadline, timeout):
        """POST_CLONE_SQL, in order."""
        for script in self.target.post_clone_sql:
            self.changes.make(f"run {script} on {cluster.id}",
                              lambda script=script: self._run_script(cluster, script, deadline, timeout))

    def _run_script(self, cluster, script, deadline, timeout):
        """Run one post-clone script; a refused login (nothing ran yet) is retried until the deadline."""
        self._until_login(
            f"{cluster.id} to accept the login for {script}",
            lambda: probes.run_script(cluster.endpoint, script, timeout=self.settings.sql_connect_timeout,
                                      port=cluster.port, engine=cluster.engine),
            deadline, failure=f"{script}: login refused until READY_TIMEOUT ({timeout}s)")
        history.note(cluster.id, self.now(), f"ran {script}")

    def _add_roles(self, cluster, deadline, timeout):
        """Associate the source's IAM roles that the clone lacks (a restore does not copy them)."""
        if self._source is None or self.parity(cluster) is None:
            return
        have = {(arn.lower(), feature.lower()) for arn, feature in cluster.config.roles}
        for arn, feature in self._source.config.roles:
            if (arn.lower(), feature.lower()) in have:
                continue
            self.changes.make(f"add IAM role {arn} ({feature or 'no feature'}) to {cluster.id}, as on {self._source.id}",
                              lambda arn=arn, feature=feature: self._add_role(cluster, arn, feature, deadline),
                              pretend=lambda arn=arn, feature=feature: _with_role(cluster, arn, feature))

    def _add_role(self, cluster, arn, feature, deadline):
        try:
            self._when_allowed(f"{cluster.id} to accept IAM role {arn}",
                               lambda: self.aws.add_role(cluster.id, arn, feature), deadline)
        except AlreadyExists:
            pass
        except AwsError as exc:  # the clone works without it; its parity line shows the difference
            self.reporter.warning("%s: IAM role %s not added: %s", cluster.id, arn, exc)
            history.note(cluster.id, self.now(), f"IAM role {arn} not added: {exc}")
            return
        _with_role(cluster, arn, feature)

    def _new_master_password(self, cluster, deadline, timeout):
        """With MASTER_PASSWORD_ENV: the clone gets its own master password (not the source's)."""
        if not self.target.master_password_env:
            return
        self.changes.make(f"set a new master password on {cluster.id} (from ${self.target.master_password_env})",
                          lambda: self._set_master_password(cluster, deadline, timeout))

    def _set_master_password(self, cluster, deadline, timeout):
        """Set it, then wait until AWS has applied it: the cluster goes through
        resetting-master-credentials (or shows the password in PendingModifiedValues) and is available
        again. Right after the call AWS may still say 'available': that is not done yet."""
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

    def promote(self, timeout=None):
        """Tag ready the created clones that are usable now; abort those past READY_TIMEOUT. No waiting.
        An AWS error on one clone does not stop the others; the first is raised once all were tried."""
        timeout = timeout or self.target.ready_timeout
        failed = None
        for cluster in self.in_state(CREATED):
            try:
                self._promote(cluster, timeout)  # reads, and changes only through self.changes: a dry run lists them
            except AwsError as exc:
                self.reporter.warning("%s not promoted: %s", cluster.id, exc)
                failed = failed or exc
        if failed:
            raise failed

    def _promote(self, cluster, timeout):
        deadline = self.since(cluster) + timedelta(seconds=timeout)
        self._refresh_cluster(cluster)
        if cluster.status == STOPPED:
            self._start(cluster)  # promoted by a later run once it is up
        try:
            ready, status = probes.status_ready(cluster, self.writer_id(cluster))
        except ProbeError as exc:
            self._abort_quietly(cluster, str(exc))
            return
        if ready:
            try:
                self.wait_ready(cluster, timeout)
            except CloneFailed as exc:
                self.reporter.warning("%s", exc)
        elif self.now() >= deadline:
            self._abort_quietly(cluster, f"did not become ready within READY_TIMEOUT ({timeout}s): {status}")


def _resetting(cluster):
    return cluster.status == RESETTING or "MasterUserPassword" in cluster.pending


def _with_role(cluster, arn, feature):
    cluster.config = replace(cluster.config, roles=tuple(sorted(cluster.config.roles + ((arn, feature),))))
