"""The daily job, read top to bottom."""

from .. import history, preflight
from ..errors import AwsError, CloneFailed
from ..lifecycle import ABORTED, CREATED


class Refreshing:
    def refresh(self, grace=None, timeout=None):
        """clone -> wait until ready -> connect -> wait out the grace -> clean.

        When today's clone cannot be made or fails, what is ready is still connected and what is
        aborted still cleaned; then the run fails naming the cause.
        """
        self.preflight(source=False)
        value = preflight.check_stable_name(self.aws, self.target)  # before any change, not only before a clone
        self.sync()  # the lookup reads the source too
        self.refuse_foreign_name(value)
        self.check_source()
        failures = []
        self.repair_states()  # a devdb:state edited by hand
        self._carry_on(failures, self.repair_writers)  # a writer deleted by hand
        for cluster in list(self.clones.values()):
            self.reconcile_instances(cluster)
        today, failure = self._todays_clone_ready(timeout)
        failures += [failure] if failure else []
        # An AWS error in one step does not leave the others undone: what is ready is connected, what is
        # aborted is cleaned, and the run fails at the end naming the first cause.
        self._carry_on(failures, lambda: self.promote(timeout))
        self._carry_on(failures, self.connect)
        grace = self.target.clean_grace if grace is None else grace
        at = self._carry_on(failures, lambda: self.wait_grace(grace))
        self._carry_on(failures, lambda: self.clean(grace, at=at))
        self._carry_on(failures, self.expire_branches)
        if failures:
            raise failures[0]
        return self.outcome

    def _carry_on(self, failures, step):
        """Run one step of the daily job; an AwsError (or a repair that failed) is said and kept for the end."""
        try:
            return step()
        except (AwsError, CloneFailed) as exc:
            self.reporter.warning("%s", exc)
            failures.append(exc)
            return None

    def _todays_clone_ready(self, timeout):
        """(today's clone, why it is not ready or None): the failure is raised at the end of the run.

        Today's clone aborted after it was ready (a rollback with connect_devdb --to, or superseded)
        is the operator's choice, not a failure: nothing to do, exit 0 (cron retries must not alert)."""
        try:
            today = self.clone()
        except (CloneFailed, AwsError) as exc:
            self.reporter.warning("%s", exc)
            return None, exc
        if today is not None and self.state(today) == CREATED:
            return today, self._ready_or_failure(today, timeout)
        if today is not None and self.state(today) == ABORTED and history.never_ready(today.id):
            record = history.find(today.id)
            reason = (record.last_error if record else "") or "aborted"
            return today, CloneFailed(f"today's clone {today.id} is aborted ({reason}); a new one is made tomorrow")
        return today, None

    def _ready_or_failure(self, cluster, timeout):
        try:
            self.wait_ready(cluster, timeout)
        except (CloneFailed, AwsError) as exc:
            return exc
        return None
