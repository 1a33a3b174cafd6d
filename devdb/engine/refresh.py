"""The daily job, read top to bottom."""

from .. import history, preflight
from ..errors import AwsError, CloneFailed
from ..lifecycle import ABORTED, CREATED


class Refreshing:
    """clone -> wait until ready -> connect -> wait out the grace -> clean."""

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
