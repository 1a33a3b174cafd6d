"""What a valid value of each kind of setting is: parsers from a raw value (a Python value, or the
string an environment variable holds) to the value devdb uses, or `Invalid` saying why not.

The rules are AWS's and RDS's own (identifiers, tags, ACUs, master passwords), so a refusal comes
before the first AWS call, not after the clone is paid for. Pure, except `password_env` (reads the
variable it names) and `control_alias` (reads DATABASES), both at call time.
"""

import os
import re
import unicodedata
from datetime import timedelta
from pathlib import Path

from django.conf import settings as django_settings

from . import lifecycle
from .errors import Invalid

PROBES = ("status", "sql")
BOOLEAN_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
TAG_LIMIT = 50  # tags per RDS resource, django-devdb's own included
LIFECYCLE_SUPPORT = ("open-source-rds-extended-support", "open-source-rds-extended-support-disabled")


def _int(value, *, minimum):
    """value as an int >= minimum, accepting digit strings (env vars); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, int) and value >= minimum:
        return value
    return None


def _number(value, *, minimum):
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= minimum else None


def _list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def integer(minimum, what, hint="", optional=False):
    """An int >= minimum; when optional, None or "" (an empty variable) mean None."""
    def parse(value):
        if optional and value in (None, ""):
            return None
        if (number := _int(value, minimum=minimum)) is None:
            raise Invalid(f"must be {what} (got {value!r})", hint=hint)
        return number
    return parse


def optional_integer(minimum, maximum):
    """An int in [minimum, maximum], or None when unset."""
    def parse(value):
        if value in (None, ""):
            return None
        if (number := _int(value, minimum=minimum)) is None or number > maximum:
            raise Invalid(f"must be an integer from {minimum} to {maximum}, or unset (got {value!r})")
        return number
    return parse


def number(minimum):
    def parse(value):
        if (parsed := _number(value, minimum=minimum)) is None:
            raise Invalid(f"must be a number >= {minimum} (got {value!r})")
        return parsed
    return parse


def acus(minimum, also=""):
    """Aurora capacity units: AWS takes half steps up to 256."""
    def parse(value):
        parsed = _number(value, minimum=minimum)
        if parsed is None or parsed > 256 or parsed * 2 != int(parsed * 2):
            raise Invalid(f"must be a number of ACUs from {minimum:g} to 256 in steps of 0.5{also} (got {value!r})")
        return parsed
    return parse


DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400}


def duration(value):
    """A duration written `90m`, `12h` or `3d` (a positive whole number and a unit), as a timedelta.

    The one parser of durations: BRANCH_TTL and `branch_devdb --ttl` both use it."""
    if isinstance(value, timedelta):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", value) if isinstance(value, str) else None
    if not match or int(match[1]) == 0:
        raise Invalid(f"must be a positive duration such as 90m, 12h or 3d (got {value!r})")
    return timedelta(seconds=int(match[1]) * DURATION_UNITS[match[2]])


def boolean(value):
    """True/False, or in the environment one of true, false, 1, 0, yes, no (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.strip().lower()]
    if isinstance(value, str):
        raise Invalid(f"must be one of {', '.join(BOOLEAN_WORDS)} (got {value!r})")
    raise Invalid(f"must be True or False (got {value!r})")


def optional_text(value):
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid(f"must be a string, or unset (got {value!r})")
    return value


def ping_url(value):
    """An http(s) URL, or unset. Its path usually holds a secret token: never echoed back."""
    from urllib.parse import urlsplit

    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid(f"must be an http(s) URL, or unset (got a {type(value).__name__})")
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        raise Invalid("must be an http(s) URL such as https://hc-ping.com/UUID (it cannot be parsed)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value.strip()):
        raise Invalid("must be an http(s) URL such as https://hc-ping.com/UUID (the value is not shown: it may hold a secret)")
    return value.strip()


def choice(*choices, optional=False):
    def parse(value):
        if optional and value in (None, ""):
            return None
        if value not in choices:
            raise Invalid(f"must be one of {', '.join(choices)}{', or unset' if optional else ''} (got {value!r})")
        return value
    return parse


_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\.?$")
_ZONE_ID = re.compile(r"^(/hostedzone/)?[A-Z0-9]{1,32}$")
_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$")
_SG_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
_MODEL = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
_TABLE = re.compile(r"^table:[^.\s]+(\.[^.\s]+)?$")  # a table with no model: "table:name" or "table:schema.name"


def source_cluster(value):
    """The identifier in lower case (also inside an ARN): RDS stores identifiers in lower case, and
    DescribeDBClusters' filter values are case-sensitive."""
    if isinstance(value, str) and value.startswith("arn:"):
        if not _CLUSTER_ARN.match(value):
            raise Invalid(f"is not an RDS cluster ARN (got {value!r})",
                          hint="arn:aws:rds:REGION:ACCOUNT:cluster:NAME, for a cluster shared through AWS RAM.")
        head, name = value.rsplit(":", 1)
        return f"{head}:{name.lower()}"
    if problem := lifecycle.identifier_problem(value):
        raise Invalid(f"{problem} (got {value!r})", hint="The identifier of the Aurora cluster to clone.")
    return value.lower()


def zone_id(value):
    if not (isinstance(value, str) and _ZONE_ID.match(value)):
        raise Invalid(f"is not a Route53 hosted zone id (got {value!r})", hint="For example Z0123456789ABC.")
    return value


def record_name(value):
    if not (isinstance(value, str) and _HOSTNAME.match(value) and "*" not in value):
        raise Invalid(f"is not a valid DNS name (got {value!r})", hint="The stable name, e.g. db.dev.example.com.")
    return value.rstrip(".")


def instance_class(value):
    if not (isinstance(value, str) and re.fullmatch(r"db\.[a-z0-9]+(\.[a-z0-9]+)?", value)):
        raise Invalid(f"must be an RDS instance class such as db.t4g.medium or db.serverless (got {value!r})")
    return value


def security_groups(value):
    """Security group ids: a list, or a comma-separated string (env)."""
    groups = _list(value)
    bad = [f"holds {g!r}, which is not a security group id (sg-...)" for g in groups if not (isinstance(g, str) and _SG_ID.match(g))]
    if bad:
        raise Invalid(*bad)
    return tuple(groups)


def names(value):
    """Schema / database names: a list, or a comma-separated string (env)."""
    found = _list(value)
    bad = [f"holds {n!r}, which is not a schema or database name" for n in found if not (isinstance(n, str) and n.strip())]
    if bad:
        raise Invalid(*bad)
    return tuple(found)


def subnet_group(value):
    if value not in (None, "") and not (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9 ._-]{1,255}", value)):
        raise Invalid(f"is not a DB subnet group name (got {value!r})")
    return value or None


def _tag_text_problem(text):
    """Why RDS refuses text as a tag key or value: Unicode letters, digits, spaces and _ . : / = + - @ only."""
    for char in text:
        if not (unicodedata.category(char)[0] in "LNZ" or char in "_.:/=+-@"):
            return f"holds the character {char!r}"
    return None


def owner(value):
    """A branch's owner (`--owner`): free text that RDS accepts as a tag value."""
    text = (value or "").strip()
    if len(text) > 256 or text.lower().startswith(("aws:", "rds:")) or _tag_text_problem(text):
        raise Invalid(f"must be at most 256 letters, digits, spaces and _ . : / = + - @ (got {value!r})")
    return text


def extra_tags(value):
    """More tags for clones, checked as RDS checks them (so a refusal comes before the clone is paid for)."""
    value = value or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Invalid("must be a dict of string keys to string values")
    found = []
    for key, text in sorted(value.items()):
        if key.lower().startswith(("aws:", "rds:", "devdb:")):
            found.append(f"must not set the reserved tag {key!r} (keys starting aws:, rds: or devdb: are reserved)")
        elif not 1 <= len(key) <= 128:
            found.append(f"has the key {key[:20]!r}..., longer than RDS's 128 characters")
        elif problem := _tag_text_problem(key):
            found.append(f"has the key {key!r}, which {problem}; RDS allows letters, digits, spaces and _ . : / = + - @")
        if text.lower().startswith(("aws:", "rds:")):
            found.append(f"gives {key!r} a value starting with aws: or rds:, which RDS refuses")
        elif len(text) > 256:
            found.append(f"gives {key!r} a value longer than RDS's 256 characters")
        elif problem := _tag_text_problem(text):
            found.append(f"gives {key!r} a value which {problem}; RDS allows letters, digits, spaces and _ . : / = + - @")
    if len(value) + len(lifecycle.OUR_TAG_KEYS) > TAG_LIMIT:
        found.append(f"holds {len(value)} tags; with django-devdb's {len(lifecycle.OUR_TAG_KEYS)} a clone would carry "
                     f"{len(value) + len(lifecycle.OUR_TAG_KEYS)}, over RDS's limit of {TAG_LIMIT}")
    if found:
        raise Invalid(*found)
    return tuple(sorted(value.items()))


def sql_files(value):
    scripts = _list(value)
    bad = [f"holds {s!r}, which is not a readable .sql file" for s in scripts
           if Path(s).suffix != ".sql" or not Path(s).is_file()]
    if bad:
        raise Invalid(*bad)
    return tuple(scripts)


def password_problem(password):
    """Why AWS would refuse password as a master password (8-41 printable ASCII, none of / " @ or space), or None.

    Never says what the password is, nor which character is wrong.
    """
    if not 8 <= len(password) <= 41:
        return "it must have 8 to 41 characters"
    if any(not "!" <= c <= "~" or c in '/"@' for c in password):
        return 'it may hold only printable ASCII characters other than /, ", @ and space'
    return None


def password_env(value):
    """The name of the variable holding the new master password; its value, when set, is checked as AWS would."""
    if value in (None, ""):
        return None
    if not (isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value)):
        raise Invalid("must be the name of an environment variable")
    password = os.environ.get(value)
    if password is not None and (problem := password_problem(password)):
        raise Invalid(f"names {value}, which AWS would refuse as a master password: {problem}")
    return value


def control_alias(value):
    databases = getattr(django_settings, "DATABASES", {})
    if value not in databases:
        raise Invalid(f"names {value!r}, which is not in DATABASES",
                      hint="The control database holds the clone history; add it to DATABASES (DEVDB_DATABASE_URL in the example project).")
    if value == "default" and len(databases) > 1:
        raise Invalid("must not be 'default', the app's dev database",
                      hint="The dev database is replaced every day and the history would vanish with it.")
    return value


def targets_dict(value):
    """Only the shape: each target is parsed against TARGET_SETTINGS by _parse_target."""
    if not isinstance(value, dict) or not value:
        raise Invalid("must be a non-empty dict of targets")
    return value


def masking_rules(value):
    """Only the shape ("app_label.ModelName" or "table:[schema.]name" -> a dict of rules, or a
    whole-table rule such as "truncate"); devdb.masking checks the rules themselves."""
    if not isinstance(value, dict):
        raise Invalid('must be a dict of "app_label.ModelName" to a dict of masking rules')
    bad = [f'holds {k!r}, which is neither "app_label.ModelName" nor "table:[schema.]name"' for k in value
           if not (isinstance(k, str) and (_MODEL.match(k) or _TABLE.match(k)))]
    bad += [f"gives {k!r} {v!r}, which is not a dict of masking rules" for k, v in value.items() if not isinstance(v, (dict, str))]
    if bad:
        raise Invalid(*bad)
    return dict(value)
