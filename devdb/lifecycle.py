"""States, tag keys, names and allowed transitions of a clone. Pure: no I/O."""

import re
from datetime import datetime, timezone

from .errors import TransitionError

MANAGED_BY = "django-devdb"

TAG_MANAGED_BY = "devdb:managed-by"
TAG_TARGET = "devdb:target"
TAG_STATE = "devdb:state"
TAG_STATE_SINCE = "devdb:state-since"
TAG_SOURCE = "devdb:source"
TAG_BRANCH = "devdb:branch"  # only on branch clones: the branch's NAME
TAG_EXPIRES_AT = "devdb:expires-at"
TAG_OWNER = "devdb:owner"
BRANCH_TAG_KEYS = (TAG_BRANCH, TAG_EXPIRES_AT, TAG_OWNER)
OUR_TAG_KEYS = (TAG_MANAGED_BY, TAG_TARGET, TAG_STATE, TAG_STATE_SINCE, TAG_SOURCE)

CREATED = "created"
READY = "ready"
CONNECTED = "connected"
ABORTED = "aborted"
DELETED = "deleted"  # only in records: a deleted clone has no tags
STATES = (CREATED, READY, CONNECTED, ABORTED)

# Forward moves of the daily routine. The only way back (to CONNECTED from READY or ABORTED)
# is an explicit rollback, or finishing one that a killed run started; see can_move().
TRANSITIONS = {
    CREATED: {READY, ABORTED},
    READY: {CONNECTED, ABORTED},
    CONNECTED: {ABORTED},
    ABORTED: set(),
}
ROLLBACK_FROM = {READY, ABORTED}

IDENTIFIER_MAX = 63
DATE_SUFFIX_LEN = len("-YYYYMMDD")
INSTANCE_SUFFIX = "-1"
# The longest generated id is the writer of a daily clone, <prefix>-YYYYMMDD-1 (RDS: cluster and instance
# identifiers are at most 63 characters): the prefix has at most 52.
PREFIX_MAX = IDENTIFIER_MAX - DATE_SUFFIX_LEN - len(INSTANCE_SUFFIX)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
BRANCH_NAME_MAX = 30
_BRANCH_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_CLONE_NAME = re.compile(r"^(?P<prefix>.+)-(?P<day>\d{8})$")


def can_move(old, new, rollback=False):
    if old == new:
        return True
    if rollback and new == CONNECTED:
        return old in ROLLBACK_FROM
    return new in TRANSITIONS.get(old, set())


def check_move(cluster_id, old, new, rollback=False):
    if not can_move(old, new, rollback):
        raise TransitionError(f"{cluster_id}: a clone cannot move from {old!r} to {new!r}")


def identifier_problem(value, max_length=IDENTIFIER_MAX):
    """Why value is not a valid RDS identifier, or None."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > max_length:
        return f"must be at most {max_length} characters (got {len(value)})"
    if not _IDENTIFIER.match(value):
        return "must start with a letter and hold only letters, digits and hyphens"
    if "--" in value:
        return "must not contain two consecutive hyphens"
    if value.endswith("-"):
        return "must not end with a hyphen"
    return None


def branch_name_problem(name):
    """Why `name` is not a branch NAME (1-30 lower-case letters, digits, hyphens, starting with a letter;
    it ends a cluster identifier, so no `--` and no trailing hyphen either), or None."""
    if not isinstance(name, str) or not 1 <= len(name) <= BRANCH_NAME_MAX or not _BRANCH_NAME.match(name):
        return (f"must be 1-{BRANCH_NAME_MAX} lower-case letters, digits and hyphens, starting with a letter "
                f"(got {name!r})")
    if "--" in name or name.endswith("-"):
        return f"must not contain two consecutive hyphens nor end with one (got {name!r})"
    return None


def branch_cluster_name(prefix, name, generation=None):
    """`<prefix>-<name>`; a later clone of the same branch (reset, or made again after a delete) adds its
    creation time, so every clone keeps its own history record."""
    base = f"{prefix}-{name}".lower()
    return f"{base}-r{generation:%y%m%d%H%M%S}" if generation else base


def branch_record_name(name, record_name):
    return f"{name}.{record_name}"


def branch_of(tags):
    """The branch NAME a clone carries, or None for a daily clone."""
    return tags.get(TAG_BRANCH) or None


def clone_name(prefix, day):
    """RDS stores identifiers in lower case: so are clone names."""
    return f"{prefix}-{day:%Y%m%d}".lower()


def instance_name(cluster_id):
    return f"{cluster_id}{INSTANCE_SUFFIX}"


def clone_day(cluster_id, prefix):
    """The UTC date in a clone's name, or None if the name is not <prefix>-YYYYMMDD."""
    match = _CLONE_NAME.match(cluster_id)
    if not match or match["prefix"].lower() != prefix.lower():
        return None
    try:
        return datetime.strptime(match["day"], "%Y%m%d").date()
    except ValueError:
        return None


def utc_day(moment):
    return moment.astimezone(timezone.utc).date()


def format_time(moment):
    """ISO-8601 UTC with a Z, to the second: 2026-11-22T05:00:03Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    """Parse a state-since tag; None if it is missing or malformed."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def clone_tags(target_name, source, state, since, extra=None):
    """The full tag set a new clone (cluster and instance) is created with, as a dict."""
    tags = dict(extra or {})
    tags.update(
        {
            TAG_MANAGED_BY: MANAGED_BY,
            TAG_TARGET: target_name,
            TAG_STATE: state,
            TAG_STATE_SINCE: format_time(since),
            TAG_SOURCE: source,
        }
    )
    return tags


def state_tags(state, since):
    return {TAG_STATE: state, TAG_STATE_SINCE: format_time(since)}


def is_ours(tags, target_name):
    return tags.get(TAG_MANAGED_BY) == MANAGED_BY and tags.get(TAG_TARGET) == target_name


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tag_list_):
    return {t["Key"]: t["Value"] for t in tag_list_ or ()}


