"""Every error devdb raises: one family, so that a command (and the runner, per target) reports any
of them as one line with a SPEC exit status, never as "unexpected"."""


class DevdbError(Exception):
    """A failure the operator can act on; str() is the one line shown."""

    exit_code = 1


class ConfigError(DevdbError):
    """Bad settings or arguments: raised before any AWS change."""


class Invalid(ConfigError, ValueError):
    """A setting parser's refusal (validators.py): one or more messages, each becoming a Problem, and
    an optional hint. Also a ValueError: what a refused value is to Python code that parses one."""

    def __init__(self, *messages, hint=""):
        super().__init__(*messages)
        self.messages, self.hint = messages, hint


class AwsError(DevdbError):
    """An AWS call failed after botocore's retries."""


class NotFound(AwsError):
    """The cluster, instance or hosted zone does not exist."""


class AlreadyExists(AwsError):
    """What was to be created exists (e.g. a retry after a lost response)."""


class NotNow(AwsError):
    """AWS refused a change because of the resource's current state; the same call may succeed later."""


class Unavailable(NotNow):
    """AWS did not answer, or answered 5xx / throttled, even after botocore's retries: the same call may
    succeed later, so a wait or a change retried while busy (engine/waiting.py) waits it out until its deadline."""


class TransitionError(DevdbError):
    """A state change that lifecycle.TRANSITIONS does not allow."""


class ProbeError(DevdbError):
    """A clone could not be logged in to, or a post-clone step failed; str() is one line without a password."""


class LoginRefused(ProbeError):
    """The server refused the credentials: right after a password reset AWS may still hold the old one."""


class CloneFailed(DevdbError):
    """The clone failed, never became ready, or a post-clone step failed; it is now aborted."""


class Locked(DevdbError):
    """Another run holds the target's lease."""

    exit_code = 3


class LeaseLost(DevdbError):
    """The run's lease was taken over (it had expired: the control database was out of reach, or the run
    froze): the run stopped before its next change. A lock problem: exit 3, like Locked."""

    exit_code = 3


class Interrupted(DevdbError):
    """SIGTERM or SIGINT: the run stopped before its next change and released its lease."""


class ControlDatabaseLost(DevdbError):
    """The control database went away mid-run (dropped, unreachable): the run stopped."""


class RunFailed(DevdbError):
    """One or more targets failed; each Outcome carries its own error."""

    def __init__(self, outcomes, exit_code):
        failed = [o for o in outcomes if o.error]
        super().__init__("; ".join(f"{o.target}: {o.error}" for o in failed))
        self.outcomes = outcomes
        self.exit_code = exit_code


class MigrationFailed(DevdbError):
    """A migration could not be applied to a clone; str() names it with its one-line reason (no password).
    `report` is the RehearsalReport of the run (devdb.rehearsal)."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


class MaskingError(DevdbError):
    """Masking could not run or did not verify; str() is one line without secrets."""


class Undecided(DevdbError):
    """Project model fields without a masking decision (mask_devdb --check, the gate)."""


class CheckFailed(DevdbError):
    """status_devdb --check found problems: listed on stdout, one per line (what Nagios reads); exit 1."""
