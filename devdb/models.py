"""The clone history in the control database: AWS tags are the truth, these rows mirror them."""

from django.db import models
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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target", "state"], name="devdb_record_target_state"),
            models.Index(fields=["state"], name="devdb_record_state"),
            models.Index(fields=["-created_at", "-id"], name="devdb_record_created"),
        ]

    def __str__(self):
        return f"{self.cluster_id} ({self.state})"

    @property
    def live_for(self):
        """How long the stable name pointed at this clone (so far), or None if it never did."""
        if not self.connected_at:
            return None
        end = self.aborted_at or self.deleted_at
        if end is None or end < self.connected_at:
            end = timezone.now() if self.state == lifecycle.CONNECTED else self.state_since
        return end - self.connected_at


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
