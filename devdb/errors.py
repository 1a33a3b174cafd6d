"""Errors that end a command with one line on stderr and a SPEC exit status."""


class DevdbError(Exception):
    """A failure the operator can act on; str() is the one line shown."""

    exit_code = 1


class ConfigError(DevdbError):
    """Bad settings or arguments: raised before any AWS change."""


class AwsError(DevdbError):
    """An AWS call failed after botocore's retries."""


class CloneFailed(DevdbError):
    """The clone failed, never became ready, or a post-clone step failed; it is now aborted."""


class Locked(DevdbError):
    """Another run holds the target's lease."""

    exit_code = 3


class ProbeError(DevdbError):
    """A clone could not be logged in to, or a post-clone step failed; str() is one line without a password."""


class LoginRefused(ProbeError):
    """The server refused the credentials: right after a password reset AWS may still hold the old one."""


class MigrationFailed(DevdbError):
    """A migration could not be applied to a clone; str() names it with its one-line reason (no password).
    `report` is the RehearsalReport of the run (devdb.rehearsal)."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report
