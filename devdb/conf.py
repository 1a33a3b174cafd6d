"""The one place that reads settings.DEVDB, and where every setting is declared.

Each setting is one `Setting` in TARGET_SETTINGS or GLOBAL_SETTINGS: its key, environment variable,
default, parser, check id and one line of doc. Defaults, validation, the system checks, the example
project's environment reading (`from_environment`) and the README configuration table (a test
compares them) all come from those declarations; `Target` and `DevdbSettings` have one attribute
per declaration, the key in lower case.

`get_settings()` turns the dict into frozen dataclasses at call time (so override_settings works);
`problems()` lists everything wrong with it. System checks and commands share `problems()`, so a bad
setting fails the same way everywhere, before the first AWS call.
"""

import os
import re
import unicodedata
import warnings
from dataclasses import dataclass, make_dataclass
from pathlib import Path
from typing import Callable

from django.conf import settings as django_settings

from . import lifecycle
from .errors import ConfigError

PROBES = ("status", "sql")
SERVERLESS_CLASS = "db.serverless"
REQUIRED = object()  # the default of a setting that has none
BOOLEAN_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
TAG_LIMIT = 50  # tags per RDS resource, django-devdb's own included
LIFECYCLE_SUPPORT = ("open-source-rds-extended-support", "open-source-rds-extended-support-disabled")


class Invalid(ValueError):
    """A parser's refusal: one or more messages, each becoming a Problem, and an optional hint."""

    def __init__(self, *messages, hint=""):
        super().__init__(*messages)
        self.messages, self.hint = messages, hint


@dataclass(frozen=True)
class Setting:
    key: str  # in DEVDB, or in DEVDB["TARGETS"][name]
    env: str | None  # the example project's environment variable; None: not read from the environment
    default: object  # REQUIRED when it has none
    parse: Callable  # raw value -> the attribute's value, or raises Invalid
    check: str  # the system check id of its problems
    doc: str  # one line, for the README table
    shown_default: str = ""  # the README's default when the value alone would mislead

    @property
    def attr(self):
        return self.key.lower()

    @property
    def required(self):
        return self.default is REQUIRED


# --- parsers: raw value (a Python value, or the string an environment variable holds) -> value ---


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


def source_cluster(value):
    if isinstance(value, str) and value.startswith("arn:"):
        if not _CLUSTER_ARN.match(value):
            raise Invalid(f"is not an RDS cluster ARN (got {value!r})",
                          hint="arn:aws:rds:REGION:ACCOUNT:cluster:NAME, for a cluster shared through AWS RAM.")
    elif problem := lifecycle.identifier_problem(value):
        raise Invalid(f"{problem} (got {value!r})", hint="The identifier of the Aurora cluster to clone.")
    return value


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
    """Only the shape ("app_label.ModelName" -> dict); devdb.masking checks the rules themselves."""
    if not isinstance(value, dict):
        raise Invalid('must be a dict of "app_label.ModelName" to a dict of masking rules')
    bad = [f'holds {k!r}, which is not "app_label.ModelName"' for k in value if not (isinstance(k, str) and _MODEL.match(k))]
    bad += [f"gives {k!r} {v!r}, which is not a dict of masking rules" for k, v in value.items() if not isinstance(v, dict)]
    if bad:
        raise Invalid(*bad)
    return dict(value)


# --- the declarations -----------------------------------------------------------------------------

THE_SOURCES = "the source's"
TARGET_SETTINGS = (
    Setting("SOURCE_CLUSTER", "DEVDB_SOURCE_CLUSTER", REQUIRED, source_cluster, "devdb.E003",
            "the Aurora cluster to clone (only ever read): its identifier, or the ARN of a cluster shared through AWS RAM"),
    Setting("HOSTED_ZONE_ID", "DEVDB_HOSTED_ZONE_ID", REQUIRED, zone_id, "devdb.E005",
            "Route53 hosted zone holding the stable name"),
    Setting("RECORD_NAME", "DEVDB_RECORD_NAME", REQUIRED, record_name, "devdb.E005",
            "the stable name, inside that zone"),
    Setting("INSTANCE_CLASS", "DEVDB_INSTANCE_CLASS", REQUIRED, instance_class, "devdb.E008",
            "writer class, e.g. `db.t4g.medium`, or `db.serverless`"),
    Setting("CLONE_PREFIX", "DEVDB_CLONE_PREFIX", None, optional_text, "devdb.E004",
            "clones are `<prefix>-YYYYMMDD`, in lower case (prefix ≤ 54 characters)", "the target's name"),
    Setting("RECORD_TTL", "DEVDB_RECORD_TTL", 60, integer(1, "a positive integer (seconds)"), "devdb.E006",
            "CNAME TTL, seconds"),
    Setting("CLEAN_GRACE", "DEVDB_CLEAN_GRACE", None,
            integer(0, "a non-negative integer (seconds) or None", hint="None means twice RECORD_TTL.", optional=True), "devdb.E006",
            "seconds an aborted clone is kept before deletion", "`2 * RECORD_TTL`"),
    Setting("READY_TIMEOUT", "DEVDB_READY_TIMEOUT", 3600, integer(1, "a positive integer (seconds)"), "devdb.E006",
            "seconds a clone may take to become ready"),
    Setting("READINESS_PROBE", "DEVDB_READINESS_PROBE", "status", choice(*PROBES), "devdb.E007",
            "`status` (AWS says available) or `sql` (the app can log in and `SELECT 1`)"),
    Setting("KEEP_ABORTED", "DEVDB_KEEP_ABORTED", 0, integer(0, "a non-negative integer"), "devdb.E006",
            "newest aborted clones kept for rollback"),
    Setting("DB_SUBNET_GROUP", "DEVDB_DB_SUBNET_GROUP", None, subnet_group, "devdb.E003",
            "subnet group of the clone", THE_SOURCES),
    Setting("VPC_SECURITY_GROUP_IDS", "DEVDB_VPC_SECURITY_GROUP_IDS", None, security_groups, "devdb.E003",
            "security groups of the clone (comma-separated in env)", THE_SOURCES),
    Setting("DB_CLUSTER_PARAMETER_GROUP", "DEVDB_DB_CLUSTER_PARAMETER_GROUP", None, optional_text, "devdb.E003",
            "cluster parameter group of the clone", THE_SOURCES),
    Setting("DB_PARAMETER_GROUP", "DEVDB_DB_PARAMETER_GROUP", None, optional_text, "devdb.E003",
            "parameter group of the clone's writer", "the source writer's"),
    Setting("PORT", "DEVDB_PORT", None, optional_integer(1150, 65535), "devdb.E006",
            "port the clone listens on", THE_SOURCES),
    Setting("PUBLICLY_ACCESSIBLE", "DEVDB_PUBLICLY_ACCESSIBLE", False, boolean, "devdb.E006",
            "whether the writer gets a public address"),
    Setting("EXTRA_TAGS", None, {}, extra_tags, "devdb.E011",
            "more tags for clones, as RDS allows them: no `aws:`, `rds:` or `devdb:` keys, at most 45"),
    Setting("POST_CLONE_SQL", "DEVDB_POST_CLONE_SQL", [], sql_files, "devdb.E010",
            "`.sql` files run in order on the clone before it counts as ready; comma-separated in env"),
    Setting("MASTER_PASSWORD_ENV", "DEVDB_MASTER_PASSWORD_ENV", None, password_env, "devdb.E013",
            "name of an environment variable holding the clone's new master password (8–41 printable ASCII, "
            "no `/`, `\"`, `@` or space)"),
    Setting("SERVERLESS_MIN_ACU", "DEVDB_SERVERLESS_MIN_ACU", 0.5, acus(0), "devdb.E014",
            "Aurora Serverless v2 minimum capacity when `INSTANCE_CLASS = \"db.serverless\"`; 0 pauses when idle"),
    Setting("SERVERLESS_MAX_ACU", "DEVDB_SERVERLESS_MAX_ACU", 4, acus(1, ", and not below SERVERLESS_MIN_ACU"),
            "devdb.E014", "Aurora Serverless v2 maximum capacity (at most 256)"),
    Setting("SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE", "DEVDB_SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE", None,
            optional_integer(300, 86400), "devdb.E006",
            "idle seconds before a clone with `SERVERLESS_MIN_ACU = 0` pauses (300–86400)", "AWS's (300)"),
    Setting("KMS_KEY_ID", "DEVDB_KMS_KEY_ID", None, optional_text, "devdb.E003",
            "KMS key for the clone of an encrypted source shared from another account", THE_SOURCES),
    Setting("ENGINE_LIFECYCLE_SUPPORT", "DEVDB_ENGINE_LIFECYCLE_SUPPORT", None,
            choice(*LIFECYCLE_SUPPORT, optional=True), "devdb.E003",
            "passed on restore when set: `open-source-rds-extended-support` or `…-disabled`", "AWS's"),
    Setting("MASK", "DEVDB_MASK", False, boolean, "devdb.E006",
            "mask the clone (the `MASKING` rules) before it counts as ready"),
    Setting("MASKING_SECURITY_GROUP_IDS", "DEVDB_MASKING_SECURITY_GROUP_IDS", None, security_groups, "devdb.E003",
            "security groups of the clone while it is masked (comma-separated in env)", "`[]`"),
)

GLOBAL_SETTINGS = (
    Setting("DATABASE", None, "devdb", control_alias, "devdb.E009",
            "alias in `DATABASES` of the control database (clone history, leases); never the dev database"),
    Setting("TARGETS", None, {}, targets_dict, "devdb.E001",
            "the targets by name, each a dict of the settings above (the example project: one, named by `DEVDB_TARGET`)",
            "required"),
    Setting("POLL_INITIAL", "DEVDB_POLL_INITIAL", 5, number(0.01), "devdb.E006",
            "seconds before the first re-poll of a wait"),
    Setting("POLL_MAX", "DEVDB_POLL_MAX", 30, number(0.01), "devdb.E006",
            "cap of the exponential backoff: a change is noticed within this many seconds"),
    Setting("POLL_FACTOR", "DEVDB_POLL_FACTOR", 1.5, number(1), "devdb.E006",
            "growth of the wait between polls"),
    Setting("AWS_MAX_ATTEMPTS", "DEVDB_AWS_MAX_ATTEMPTS", 8, integer(1, "an integer >= 1"), "devdb.E006",
            "botocore standard retry mode, attempts per call"),
    Setting("LOCK_EXPIRY", "DEVDB_LOCK_EXPIRY", 7200, integer(60, "an integer >= 60"), "devdb.E006",
            "seconds a lease lives unless renewed"),
    Setting("SQL_CONNECT_TIMEOUT", "DEVDB_SQL_CONNECT_TIMEOUT", 10, integer(1, "an integer >= 1"), "devdb.E006",
            "seconds a SQL probe or script waits to connect"),
    Setting("MASKING", None, {}, masking_rules, "devdb.E016",
            "masking rules: `\"app_label.ModelName\"` → a dict of rules for its fields"),
)
TARGET_VARIABLE = "DEVDB_TARGET"  # names the one target the example project reads from the environment


# --- the validated settings -----------------------------------------------------------------------


def _declared(name, declarations, *first):
    """A frozen dataclass with the fields `first` then one per declaration (the key in lower case)."""
    return make_dataclass(name, [*first, *((s.attr, object) for s in declarations)], frozen=True)


class Target(_declared("TargetFields", TARGET_SETTINGS, ("name", str))):
    """One target, validated: `name` and one attribute per TARGET_SETTINGS entry."""

    @property
    def source_id(self):
        """The source cluster's identifier (lower case), also when SOURCE_CLUSTER is a shared cluster's ARN."""
        return self.source_cluster.rsplit(":", 1)[-1].lower()

    @property
    def serverless(self):
        return self.instance_class == SERVERLESS_CLASS

    @property
    def zone_id(self):
        return self.hosted_zone_id.rsplit("/", 1)[-1]

    @property
    def fqdn(self):
        return normalize_name(self.record_name)


class DevdbSettings(_declared("DevdbSettingsFields", GLOBAL_SETTINGS)):
    """settings.DEVDB, validated: one attribute per GLOBAL_SETTINGS entry (`targets`: name -> Target)."""

    def select(self, names):
        """The targets named on a command line (all of them if none), or a ConfigError."""
        if not names:
            return list(self.targets.values())
        unknown = [n for n in names if n not in self.targets]
        if unknown:
            raise ConfigError(unknown_target(unknown[0], self.targets))
        return [self.targets[n] for n in dict.fromkeys(names)]

    @property
    def source_clusters(self):
        """Identifiers (lower case) of every target's source: never tagged, modified or deleted."""
        return {t.source_id for t in self.targets.values()}


@dataclass(frozen=True)
class Problem:
    id: str
    setting: str  # where it is in settings.py: DEVDB['TARGETS']['dev']['RECORD_TTL']
    message: str
    hint: str = ""
    variable: str = ""  # the environment variable it came from, when it did

    @property
    def where(self):
        """What the user wrote: the environment variable if they set one, else the place in DEVDB."""
        return self.variable or self.setting

    def __str__(self):
        return f"{self.variable} {self.message}" if self.variable else f"{self.setting}: {self.message}"


class FromEnvironment(dict):
    """A settings dict read from environment variables; `variables` maps each key to its variable
    (None: the variable that named the target), so problems name what the user actually set.
    `unknown`: DEVDB_* variables nothing reads, most likely typos (a system check warns)."""

    def __init__(self, values, variables, unknown=()):
        super().__init__(values)
        self.variables, self.unknown = variables, tuple(unknown)


def from_environment(environ, also=()):
    """DEVDB from environment variables (a plain mapping such as os.environ): the global settings
    that have a variable, and one target, named by DEVDB_TARGET (default `dev`). Empty variables
    count as unset; values stay strings, parsed and checked like any setting. `also`: the other
    DEVDB_* variables the caller reads itself, so they are not taken for typos."""

    def read(declarations):
        values = {s.key: environ[s.env] for s in declarations if s.env and environ.get(s.env, "") != ""}
        return values, {s.key: s.env for s in declarations if s.env}

    target, variables = read(TARGET_SETTINGS)
    devdb, global_variables = read(GLOBAL_SETTINGS)
    name = environ.get(TARGET_VARIABLE) or "dev"
    devdb["TARGETS"] = {name: FromEnvironment(target, {**variables, None: TARGET_VARIABLE})}
    known = {*environment_variables(), *also}
    unknown = sorted(v for v in environ if v.startswith("DEVDB_") and v not in known)
    return FromEnvironment(devdb, global_variables, unknown)


def environment_variables():
    """Every variable a declared setting is read from."""
    return [s.env for s in TARGET_SETTINGS + GLOBAL_SETTINGS if s.env] + [TARGET_VARIABLE]


def normalize_name(name):
    return name.rstrip(".").lower() + "."


def unknown_target(name, targets):
    known = ", ".join(sorted(targets)) or "none"
    return f"unknown target {name!r} (configured: {known})"


def _values(declarations, raw, bad):
    """Parse every declared key of raw (defaults for the missing ones); report unknown and missing keys."""
    declared = {s.key: s for s in declarations}
    for key in sorted(set(raw) - set(declared), key=str):
        bad("devdb.E012", key, "is not a known setting", f"Known settings: {', '.join(declared)}.")
    values = {}
    for setting in declarations:
        value = raw.get(setting.key, None if setting.required else setting.default)
        if setting.required and value in (None, ""):
            hint = f"Set it, or the environment variable {setting.env}." if setting.env else ""
            bad("devdb.E002", setting.key, "is required", hint)
            continue
        try:
            values[setting.key] = setting.parse(value)
        except Invalid as invalid:
            for message in invalid.messages:
                bad(setting.check, setting.key, message, invalid.hint)
    return values


def _reporter(path, raw, problems, declarations):
    """bad(check, key, message, hint): a Problem at path[key] (key None: the target itself).

    When raw came from the environment the Problem names the variable the user set: the key's own,
    or (for a default derived from the target's name) the one that named the target.
    """
    variables = getattr(raw, "variables", {})
    required = {s.key for s in declarations if s.required}

    def bad(check, key, message, hint=""):
        setting = f"{path}[{key!r}]" if key else path
        variable = variables.get(key if key is None or key in raw or key in required else None, "")
        problems.append(Problem(check, setting, message, hint, variable))
    return bad


def _parse_target(name, raw, problems):
    """Validate one target's dict; append Problems; return a Target or None."""
    path = f"DEVDB['TARGETS'][{name!r}]"
    before = len(problems)
    if not isinstance(raw, dict):
        problems.append(Problem("devdb.E001", path, "must be a dict of settings"))
        return None
    bad = _reporter(path, raw, problems, TARGET_SETTINGS)
    if name_problem := lifecycle.identifier_problem(name):
        bad("devdb.E003", None, f"target name {name_problem}", "Target names become tag values and clone prefixes.")
    values = _values(TARGET_SETTINGS, raw, bad)

    # RDS stores identifiers in lower case; so are clone names.
    given = values.get("CLONE_PREFIX")
    prefix = (given or name).lower() if isinstance(given or name, str) else None
    longest = lifecycle.IDENTIFIER_MAX - lifecycle.DATE_SUFFIX_LEN
    if given or not name_problem:  # else the prefix is the bad target name, already reported
        if problem := lifecycle.identifier_problem(prefix, longest):
            bad("devdb.E004", "CLONE_PREFIX", problem if "(got" in problem else f"{problem} (got {prefix!r})",
                f"Clusters are named <CLONE_PREFIX>-YYYYMMDD, at most 63 characters, so the prefix has at most {longest}.")
        elif values.get("SOURCE_CLUSTER") and prefix == values["SOURCE_CLUSTER"].rsplit(":", 1)[-1].lower():
            bad("devdb.E004", "CLONE_PREFIX", "must differ from SOURCE_CLUSTER")
    values["CLONE_PREFIX"] = prefix
    if values.get("CLEAN_GRACE", 0) is None and "RECORD_TTL" in values:
        values["CLEAN_GRACE"] = 2 * values["RECORD_TTL"]
    low, high = values.get("SERVERLESS_MIN_ACU"), values.get("SERVERLESS_MAX_ACU")
    if low is not None and high is not None and low > high:
        bad("devdb.E014", "SERVERLESS_MIN_ACU", f"must not exceed SERVERLESS_MAX_ACU ({low:g} > {high:g})")
    if values.get("SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE") is not None and low not in (None, 0):
        bad("devdb.E014", "SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE",
            f"applies only when SERVERLESS_MIN_ACU is 0 (it is {low:g}): AWS pauses only instances that may scale to 0 ACUs")

    if len(problems) > before:
        return None
    return Target(name=name, **{s.attr: values[s.key] for s in TARGET_SETTINGS})


def _parse(raw):
    problems = []
    if raw is None:
        problems.append(Problem("devdb.E001", "DEVDB", "is not set", "Add a DEVDB dict with at least one target to your settings."))
        return None, problems
    if not isinstance(raw, dict):
        problems.append(Problem("devdb.E001", "DEVDB", "must be a dict"))
        return None, problems
    values = _values(GLOBAL_SETTINGS, raw, _reporter("DEVDB", raw, problems, GLOBAL_SETTINGS))

    targets = {}
    for name, target_raw in (values.get("TARGETS") or {}).items():
        if target := _parse_target(name, target_raw, problems):
            targets[name] = target
    host = (getattr(django_settings, "DATABASES", {}).get(values.get("DATABASE")) or {}).get("HOST") or ""
    for target in targets.values():
        if host and normalize_name(host) == target.fqdn:
            problems.append(Problem("devdb.E009", "DEVDB['DATABASE']",
                                    f"points at {target.record_name}, the dev database of target {target.name!r}",
                                    "The history would be replaced with each clone; use a separate control database."))
    prefixes = [t.clone_prefix for t in targets.values()]
    for prefix in sorted({p for p in prefixes if prefixes.count(p) > 1}):
        problems.append(Problem("devdb.E004", "DEVDB['TARGETS']", f"two targets share the clone prefix {prefix!r}"))
    if problems:
        return None, problems
    values["TARGETS"] = targets
    values["POLL_MAX"] = max(values["POLL_MAX"], values["POLL_INITIAL"])
    return DevdbSettings(**{s.attr: values[s.key] for s in GLOBAL_SETTINGS}), []


def problems():
    """Everything wrong with settings.DEVDB, as Problems (empty when it is fine)."""
    return _parse(getattr(django_settings, "DEVDB", None))[1]


def get_settings():
    """settings.DEVDB as a DevdbSettings, or a ConfigError listing every problem, one per line."""
    parsed, found = _parse(getattr(django_settings, "DEVDB", None))
    if found:
        raise ConfigError("\n".join(str(problem) for problem in found))
    return parsed


def control_database():
    """The control DB alias, even when the rest of DEVDB is broken (the router needs it)."""
    raw = getattr(django_settings, "DEVDB", None)
    if isinstance(raw, dict) and isinstance(raw.get("DATABASE"), str):
        return raw["DATABASE"]
    return next(s.default for s in GLOBAL_SETTINGS if s.key == "DATABASE")


def database_url(env, var, default):
    """DATABASES entry from the URL in environment variable `var`, or a ConfigError.

    The error names the variable and the reason, never the URL: it may hold a password.
    """
    url = env.str(var, default=default)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme or scheme not in env.DB_SCHEMES:
        what = f"unknown scheme {scheme!r}" if scheme else "not a URL"
        raise ConfigError(f"{var} is not a valid database URL ({what}; expected e.g. mysql://USER:PASSWORD@HOST:3306/NAME)")
    try:
        # django-environ warns about some URLs quoting the user:password part; never let that out.
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            config = env.db_url_config(url)
    except (ValueError, KeyError) as exc:
        reason = "the port is not a number" if "Port" in str(exc) else "it cannot be parsed"
        raise ConfigError(f"{var} is not a valid database URL ({reason})") from None
    if warned and config.get("ENGINE") == "django.db.backends.sqlite3":
        raise ConfigError(f"{var} is not a valid database URL (a sqlite URL takes no user, password or host; "
                          "expected e.g. sqlite:////absolute/path.sqlite3)")
    if config["ENGINE"] != "django.db.backends.sqlite3" and not (config.get("HOST") and config.get("NAME")):
        raise ConfigError(f"{var} is not a valid database URL (it needs a host and a database name)")
    if not config.get("NAME"):
        raise ConfigError(f"{var} is not a valid database URL (it needs a database name)")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Parallel targets write the history from several threads or processes: take the write
        # lock when a transaction starts (a deferred one that upgrades fails at once) and wait for it.
        config.setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")
        config["OPTIONS"].setdefault("timeout", 30)
    return config
