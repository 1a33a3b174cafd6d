"""Every change — tag, create, modify, point the name, delete, run SQL — is made here, and only here.

A real run narrates each change (logged, listed in the Outcome) and makes it. A dry run is just
another executor: it lists the same changes as "would ..." and makes none. Step code never asks
which one it has; it hands each change over as (what it is, how to make it, and — where later steps
depend on it — how to pretend it in memory), so a dry run walks the real run's path and lists the
same changes in the same order.
"""

from dataclasses import dataclass, field

from .. import signals


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
    dry_run: bool = False

    def as_dict(self):
        return {"target": self.target, "actions": self.actions, "created": self.created, "deleted": self.deleted,
                "connected": self.connected, "record_points_at": self.points_at, "error": self.error}


class Changes:
    """Makes the changes: each one narrated, then made."""

    def __init__(self, outcome, reporter, sender):
        self.outcome = outcome
        self.reporter = reporter
        self.sender = sender  # what signals are sent from (the Engine class)
        # The fencing check before each change (devdb.locks.Lease.check, set by the runner): renews the
        # lease, raising LeaseLost when another run took it over or Interrupted after SIGTERM/SIGINT.
        self.fence = None

    def make(self, text, action=None, *, planned=None, pretend=None, warn=False):
        """Narrate one change (at WARNING with `warn`: a clone aborted for a failure) and make it;
        returns what action() returned. `pretend` is for a dry run (see DryRun)."""
        if self.fence:
            self.fence()
        self.outcome.actions.append(text)
        (self.reporter.warning if warn else self.reporter.info)(text)
        return action() if action else None

    def step(self, text, action, *, planned=None):
        """A step that is not itself one change (a wait, a check), made silently: its progress is
        shown as it goes and the changes it makes pass through make(). Returns what action() returned."""
        return action()

    def record(self, action):
        """Write the records that mirror the tags (the control database); not narrated."""
        action()

    def announce(self, signal, **kwargs):
        """Tell the project's receivers about a change made (signals.py)."""
        signals.send(signal, self.sender, **kwargs)


class DryRun(Changes):
    """Lists each change and step as "would ..."; makes none, records nothing, announces nothing.

    What a change or step would have returned is `planned` (e.g. True: "assume it would succeed"), or
    what `pretend()` returns: the change's effect on the engine's memory only (a state tag, a clone
    object), so that the steps after it see what the real run would leave them."""

    def __init__(self, outcome, reporter, sender):
        super().__init__(outcome, reporter, sender)
        outcome.dry_run = True

    def make(self, text, action=None, *, planned=None, pretend=None, warn=False):
        self.outcome.actions.append("would " + text)
        return pretend() if pretend else planned

    def step(self, text, action, *, planned=None):
        if text:
            self.outcome.actions.append("would " + text)
        return planned

    def record(self, action):
        pass

    def announce(self, signal, **kwargs):
        pass
