"""clone / promote / connect / clean / refresh for one target: idempotent and resumable.

The Engine is one object for one target and one run, made of one part per job, each in its own
file: changes.py (where every change is made, or in a dry run only listed), clones.py (lookup,
facts), states.py (tagging), waiting.py, clone.py, ready.py (the readiness
steps, in order), sealed.py (masking, MIGRATE_BEFORE_CONNECT), connect.py, clean.py, sync.py, refresh.py
(the daily job), status.py, branches.py (on-demand clones with expiry: `Branch`). The engine
never touches the source cluster.
"""

from ..output import Reporter
from .branches import BranchLine, Branches
from .changes import Changes, DryRun, Outcome
from .clean import Cleaning
from .clone import Cloning
from .clones import Lookup
from .connect import Connecting
from .ready import Readiness
from .refresh import Refreshing
from .sealed import Sealing
from .states import States
from .status import Status
from .sync import Syncing
from .waiting import Clock, Waiting

__all__ = ["Branch", "Clock", "Engine", "Outcome"]


class Engine(Refreshing, Lookup, States, Waiting, Cloning, Readiness, Sealing, Connecting, Cleaning, Syncing, Status,
             Branches):
    def __init__(self, target, gateway, settings, *, clock=None, reporter=None, dry_run=False, heartbeat=None):
        self.target = target
        self.aws = gateway
        self.settings = settings
        self.clock = clock or Clock()
        self.reporter = reporter or Reporter(target.name)
        self.heartbeat = heartbeat or (lambda: None)
        self.outcome = Outcome(target.name)
        self.changes = (DryRun if dry_run else Changes)(self.outcome, self.reporter, sender=Engine)
        self.clones = {}  # cluster id -> aws.Cluster, this target's clones as last seen
        self.elsewhere = {}  # the target's clones of other lines (branches.py)
        self._source = None
        self.name_value = None  # where the stable name pointed at preflight
        self.pretended_masked = set()  # clones a dry run takes as masked (sealed.py)


class Branch(BranchLine, Engine):
    """One branch of a target (branches.py): Branch(target, gateway, settings, NAME, ...)."""
