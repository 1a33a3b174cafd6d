"""The clone history in the control database: AWS tags are the truth, these rows mirror them."""

from datetime import timedelta

from django.db import models
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from . import lifecycle

STATE_CHOICES = [(s, s) for s in (*lifecycle.STATES, lifecycle.DELETED)]


class CloneRecord(models.Model):
    """One row per clone cluster, mirroring its tags, with the time of each state."""

    target = models.CharField(max_length=63)
    cluster_id = models.CharField("clone", max_length=63, unique=True)
    instance_id = models.CharField(max_length=63, blank=True)
    source = models.CharField(max_length=63)
    state = models.CharField(max_length=16, choices=STATE_CHOICES)
    state_since = models.DateTimeField()
    endpoint = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField("created")
    ready_at = models.DateTimeField("ready", null=True, blank=True)
    connected_at = models.DateTimeField("connected", null=True, blank=True)
    aborted_at = models.DateTimeField("aborted", null=True, blank=True)
    deleted_at = models.DateTimeField("deleted", null=True, blank=True)
    last_error = models.TextField(blank=True)
    # MaskingReport.as_dict(): rules fingerprint, tables, rows, seconds, verification. None: not masked.
    masking = models.JSONField("masking report", null=True, blank=True)
    # A branch (branch_devdb): its NAME, who asked for it, when it expires. Blank for the daily clone.
    branch = models.CharField(max_length=30, blank=True, db_index=True)
    owner = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField("expires", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target", "state"], name="devdb_record_target_state"),
            models.Index(fields=["state"], name="devdb_record_state"),
            models.Index(fields=["-created_at", "-id"], name="devdb_record_created"),
            # The newest record of a target (the admin's "last run failed"), when its name last moved (status).
            models.Index(fields=["target", "created_at"], name="devdb_record_target_created"),
            models.Index(fields=["target", "branch", "created_at"], name="devdb_record_line_created"),
            models.Index(fields=["target", "connected_at"], name="devdb_record_target_connected"),
        ]

    def __str__(self):
        return f"{self.cluster_id} ({self.state})"

    @property
    def failed(self):
        """Whether the clone failed: aborted before it was ever ready (created -> aborted), also once deleted."""
        return any(e.from_state == lifecycle.CREATED and e.to_state == lifecycle.ABORTED for e in self._moves())

    @property
    def live_periods(self):
        """[(start, end)] of each time the stable name pointed at this clone, from the timeline (a clone
        rolled back to was live twice); end is None while it still is."""
        periods = []
        for event in self._moves():
            if periods and periods[-1][1] is None and lifecycle.CONNECTED in (event.from_state, event.to_state):
                periods[-1][1] = event.at  # out of connected (or, in a garbled history, into it again)
            if event.to_state == lifecycle.CONNECTED:
                periods.append([event.at, None])
        return [tuple(period) for period in periods]

    @property
    def live_for(self):
        """How long the stable name pointed at this clone in all (so far), or None if it never did."""
        periods = self.live_periods
        if not periods:
            return None
        now = timezone.now()
        return sum(((end or now) - start for start, end in periods), timedelta())

    def _moves(self):
        """The events into and out of `connected` and a failure, oldest first (prefetched by with_moves())."""
        if not hasattr(self, "moves"):
            self.moves = list(self.events.filter(MOVES))
        return self.moves


def with_moves(records):
    """records with the events that live_for and failed read, in one query for all of them."""
    return records.prefetch_related(Prefetch("events", queryset=CloneEvent.objects.filter(MOVES), to_attr="moves"))


def failed_filter():
    """A filter() argument: the record failed (created -> aborted), as CloneRecord.failed."""
    return Exists(CloneEvent.objects.filter(record=OuterRef("pk"), from_state=lifecycle.CREATED,
                                            to_state=lifecycle.ABORTED))


def newest_times(branch=""):
    """[(target, its newest created time)] of one line (the daily clones, or a branch name's): per target,
    one index seek for the next target down (a skip scan over every record, on an index that starts with
    target) and one for that target's newest created time (devdb_record_line_created). GROUP BY target would
    read every record (PostgreSQL's planner, without ANALYZE, sorts them all), and so does SQLite's when the
    skip step filters on branch (it picks the branch index)."""
    records = CloneRecord.objects.all()
    found, target = [], None
    while True:
        target = (records.filter(target__lt=target) if target is not None else records).order_by(
            "-target").values_list("target", flat=True).first()
        if target is None:
            return found
        created = (records.filter(target=target, branch=branch).order_by("-created_at")
                   .values_list("created_at", flat=True).first())
        if created is not None:
            found.append((target, created))


def newest_failed(branch=""):
    """Each target's newest record of one line (by default the daily clones; by created time, then id) if it
    failed, as a list. No query reads every record: newest_times (two queries per target, plus one), then
    the records created at those times (an index seek each; ties broken here by id) with whether each failed."""
    newest = Q()
    for target, created in newest_times(branch):
        newest |= Q(target=target, branch=branch, created_at=created)
    if not newest:
        return []
    picked = {}
    for record in CloneRecord.objects.filter(newest).annotate(has_failed=failed_filter()):
        kept = picked.get(record.target)
        if kept is None or (record.created_at, record.id) > (kept.created_at, kept.id):
            picked[record.target] = record
    return [record for record in picked.values() if record.has_failed]


def recent_failures(target):
    """The target's failed clones since its stable name last moved (a failed morning not yet made good by a
    new clone or a rollback), newest first, with last_error: what `status_devdb` shows below the clones.
    Two queries: when the name last moved (devdb_record_target_connected), then the records created since
    (devdb_record_target_created), each checked for a failure."""
    records = CloneRecord.objects.filter(target=target)
    last_move = (records.exclude(connected_at=None).order_by("-connected_at")
                 .values_list("connected_at", flat=True).first())
    since = records.filter(created_at__gt=last_move) if last_move else records
    return since.filter(failed_filter()).order_by("-created_at", "-id")


# Events that live_for and failed read: into or out of `connected`, and created -> aborted; notes excluded.
MOVES = (Q(to_state=lifecycle.CONNECTED) | Q(from_state=lifecycle.CONNECTED)
         | Q(from_state=lifecycle.CREATED, to_state=lifecycle.ABORTED)) & ~Q(from_state=F("to_state"))


class CloneEvent(models.Model):
    """One row per transition (or notable failure) of a clone."""

    record = models.ForeignKey(CloneRecord, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["record", "at"], name="devdb_event_record_at")]

    def __str__(self):
        return f"{self.record.cluster_id}: {self.from_state or '-'} -> {self.to_state}"


class TargetLease(models.Model):
    """Who runs a target now. See devdb.locks."""

    target = models.CharField(max_length=63, primary_key=True)
    token = models.CharField(max_length=64)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.target}: {self.host} pid {self.pid}"
