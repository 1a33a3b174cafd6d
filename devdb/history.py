"""Mirror clone states into CloneRecord / CloneEvent. The only code that writes them."""

from django.db import transaction

from . import lifecycle
from .conf import control_database
from .models import CloneEvent, CloneRecord

_TIME_FIELD = {
    lifecycle.READY: "ready_at",
    lifecycle.CONNECTED: "connected_at",
    lifecycle.ABORTED: "aborted_at",
    lifecycle.DELETED: "deleted_at",
}


def _atomic(function):
    """A record and its event are written together: a kill between them would lose the event."""

    def wrapper(*args, **kwargs):
        with transaction.atomic(using=control_database()):
            return function(*args, **kwargs)

    wrapper.__doc__, wrapper.__name__ = function.__doc__, function.__name__
    return wrapper


@_atomic
def mirror(*, target, cluster_id, state, at, source="", instance_id="", endpoint="", message="", error=None,
           created_at=None, branch=None):
    """Record that cluster_id is in `state` since `at`; add an event if that is a change.

    A deleted record stays deleted whatever state is mirrored onto it later.
    `error` replaces last_error when given ("" clears it). `created_at` dates a record first
    written after the fact (e.g. by sync, for a clone a killed run never recorded). `branch`: the
    branch tags (lifecycle.BRANCH_TAG_KEYS) of a branch clone, mirrored as they are now.
    """
    record = find(cluster_id)
    if record is not None and record.state == lifecycle.DELETED and state != lifecycle.DELETED:
        # Deleted is final: a clone AWS is still deleting is read back with its old state tag (aborted),
        # which must not reopen its record (no deleted -> aborted -> deleted).
        return record
    if record is None:
        first = min(created_at, at) if created_at else at
        record = CloneRecord(target=target, cluster_id=cluster_id, state="", created_at=first, state_since=at)
    old_state = record.state
    changed = old_state != state
    record.target = target
    record.source = source or record.source
    record.instance_id = instance_id or record.instance_id
    record.endpoint = endpoint or record.endpoint
    if changed:
        if record.pk and at < record.state_since:
            # A state read back from its tag (whole seconds, e.g. by sync after a killed run) must
            # not predate the state it follows: keep the history in order.
            at = record.state_since
        record.state = state
        record.state_since = at
        if field := _TIME_FIELD.get(state):
            setattr(record, field, at)
    if error is not None:
        record.last_error = error
    if branch:
        record.branch = branch.get(lifecycle.TAG_BRANCH, record.branch)
        record.owner = branch.get(lifecycle.TAG_OWNER, record.owner)
        record.expires_at = lifecycle.parse_time(branch.get(lifecycle.TAG_EXPIRES_AT)) or record.expires_at
    record.save()
    if changed or message:
        CloneEvent.objects.create(record=record, at=at, from_state=old_state, to_state=state, message=message)
    return record


@_atomic
def note(cluster_id, at, message):
    """Add an event without a state change (e.g. a script that ran); no-op if there is no record."""
    record = find(cluster_id)
    if record is None:
        return None
    CloneEvent.objects.create(record=record, at=at, from_state=record.state, to_state=record.state, message=message)
    return record


@_atomic
def record_masking(cluster_id, at, report):
    """Keep the clone's masking report (MaskingReport.as_dict()) and note the verdict as an event."""
    record = find(cluster_id)
    if record is None:
        return None
    record.masking = report
    record.save(update_fields=["masking", "updated_at"])
    verification = report.get("verification") or {}
    verdict = "masked and verified" if verification.get("ok") else "masking FAILED verification"
    CloneEvent.objects.create(record=record, at=at, from_state=record.state, to_state=record.state,
                              message=f"{verdict}: rules {report.get('fingerprint')}, {report.get('rows')} rows "
                                      f"in {report.get('seconds')}s")
    return record


def find(cluster_id):
    """The record of cluster_id, matched case-insensitively (RDS stores identifiers in lower case)."""
    return CloneRecord.objects.filter(cluster_id__iexact=cluster_id).first()


def never_ready(cluster_id):
    """Whether the records show cluster_id went created -> aborted (failed: never probed, masked or
    given its new password), so it must not be kept for rollback nor connected. Unknown: False."""
    return CloneEvent.objects.filter(
        record__cluster_id__iexact=cluster_id, from_state=lifecycle.CREATED, to_state=lifecycle.ABORTED
    ).exists()


def never_live(cluster_id):
    """Whether the records show cluster_id was never connected: nobody resolved the stable name to it,
    so no DNS grace protects anyone. Unknown (no record): False."""
    record = find(cluster_id)
    return record is not None and not record.events.filter(to_state=lifecycle.CONNECTED).exists()


def open_records(target, branch=None):
    """The target's records not yet deleted: the daily clone's (branch None) or one branch's."""
    return CloneRecord.objects.filter(target=target, branch=branch or "").exclude(state=lifecycle.DELETED)
