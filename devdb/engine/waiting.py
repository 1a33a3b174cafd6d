"""Waiting on AWS: poll with capped exponential backoff, retry a change AWS refuses while busy."""

from datetime import datetime, timezone

from .. import locks, probes
from ..aws import has_failed
from ..errors import LoginRefused, NotNow, ProbeError, Unavailable

STOPPED = "stopped"


class Clock:
    """Real time. Tests pass a fake with the same two methods."""

    def now(self):
        return datetime.now(timezone.utc)

    def sleep(self, seconds):
        """Sleep, waking at once on SIGTERM/SIGINT (devdb.locks.stopping) to stop the run."""
        if locks.stopping.wait(seconds):
            locks.check_stopping()


class Waiting:
    """Polling until a condition holds or a deadline passes; the lease is renewed between polls."""

    def _wait_cluster_available(self, cluster, deadline, timeout):
        """Poll the cluster alone (one call a poll) until available; ProbeError if it failed or timed out."""

        def check():
            self._refresh_cluster(cluster, instances=False)
            if has_failed(cluster.status):
                raise ProbeError(f"AWS reports cluster {cluster.status}")
            if cluster.status == STOPPED:
                self._start(cluster)
            return cluster.status == probes.AVAILABLE, f"cluster {cluster.status}"

        if cluster.status == probes.AVAILABLE:
            return
        if self._wait(f"{cluster.id} to be available", check, deadline) is None:
            raise ProbeError(f"did not become available within READY_TIMEOUT ({timeout}s)")

    def _start(self, cluster):
        """Start a stopped clone (someone stopped it to save costs) so that it can be used."""
        def start():
            try:
                cluster.status = self.aws.start_cluster(cluster.id).status
            except NotNow:  # already starting: keep waiting
                pass

        self.changes.make(f"start {cluster.id} (it is stopped)", start)

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

    def _until_login(self, what, attempt, deadline, failure):
        """Call attempt() until the clone stops refusing its login (a new master password can lag behind
        `available`; a refused login ran nothing), polling like _wait. At the deadline: ProbeError
        "<failure>: <the last refusal>"."""
        last = {"reason": ""}

        def check():
            try:
                attempt()
                return True, "done"
            except LoginRefused as exc:
                last["reason"] = str(exc)
                return False, f"login: {exc}"

        if self._wait(what, check, deadline) is None:
            raise ProbeError(f"{failure}: {last['reason']}")

    def _wait(self, what, check, deadline):
        """Poll check() -> (done, status) with capped exponential backoff until done or deadline.

        Returns the last status, or None at the deadline. Renews the lease between polls. AWS being
        unreachable or failing (Unavailable: connection errors, 5xx after botocore's retries) is waited
        out like any other "not yet": an outage of minutes must not abort a clone that is fine.
        """
        start = self.now()
        delay = self.settings.poll_initial
        while True:
            try:
                done, status = check()
            except Unavailable as exc:
                done, status = False, f"AWS unavailable ({str(exc).rsplit(': ', 1)[-1]})"
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
