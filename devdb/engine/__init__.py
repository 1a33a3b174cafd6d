"""clone / promote / connect / clean / refresh for one target: idempotent and resumable.

The Engine is one object for one target and one run, made of one part per job, each in its own
file: clones.py (lookup, facts), states.py (tagging), waiting.py, clone.py, ready.py (the readiness
steps, in order), connect.py, clean.py, sync.py, refresh.py (the daily job), status.py. The engine
never touches the source cluster.
"""

from dataclasses import dataclass, field

from ..output import Reporter
from .clean import Cleaning
from .clone import Cloning
from .clones import Lookup
from .connect import Connecting
from .ready import Readiness
from .refresh import Refreshing
from .states import States
from .status import Status
from .sync import Syncing
from .waiting import Clock, Waiting

__all__ = ["Clock", "Engine", "Outcome"]


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


class Engine(Refreshing, Lookup, States, Waiting, Cloning, Readiness, Connecting, Cleaning, Syncing, Status):
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
