"""The one place that reads settings.DEVDB, and where every setting is declared.

Each setting is one `Setting` in TARGET_SETTINGS or GLOBAL_SETTINGS: its key, environment variable,
default, parser (devdb.validators), check id and one line of doc. Defaults, validation, the system checks, the example
project's environment reading (`from_environment`) and the README configuration table (a test
compares them) all come from those declarations; `Target` and `DevdbSettings` have one attribute
per declaration, the key in lower case.

`get_settings()` turns the dict into frozen dataclasses at call time (so override_settings works);
`problems()` lists everything wrong with it. System checks and commands share `problems()`, so a bad
setting fails the same way everywhere, before the first AWS call.
"""

import difflib
import re
import warnings
from pathlib import Path
from dataclasses import dataclass, make_dataclass
from datetime import timedelta
from typing import Callable

from django.conf import settings as django_settings

from . import lifecycle
from .errors import ConfigError
from .validators import (
    LIFECYCLE_SUPPORT, PROBES, Invalid, acus, boolean, choice, control_alias, duration, extra_tags, instance_class, integer,
    masking_rules, names, number, optional_integer, optional_text, password_env, ping_url, record_name, security_groups, source_cluster,
    sql_files, subnet_group, targets_dict, zone_id,
)

REQUIRED = object()  # the default of a setting that has none


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


# --- the declarations -----------------------------------------------------------------------------

SERVERLESS_CLASS = "db.serverless"
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
            "clones are `<prefix>-YYYYMMDD`, writers `<prefix>-YYYYMMDD-1`, in lower case (prefix ≤ 52 characters)", "the target's name"),
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
            "devdb.E014", "Aurora Serverless v2 maximum capacity (at most 256; 128 before Aurora MySQL 3.06 / PostgreSQL 13.13, 14.10, 15.5, 16.1)"),
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
    Setting("MIGRATE_BEFORE_CONNECT", "DEVDB_MIGRATE_BEFORE_CONNECT", False, boolean, "devdb.E006",
            "apply this code's migrations to the clone before it counts as ready (a failing one aborts it)"),
    Setting("BRANCH_TTL", "DEVDB_BRANCH_TTL", "3d", duration, "devdb.E006",
            "how long a branch (`branch_devdb create`) lives unless given `--ttl`: `90m`, `12h`, `3d`"),
    Setting("BRANCH_MAX_TTL", "DEVDB_BRANCH_MAX_TTL", "30d", duration, "devdb.E006",
            "the furthest from now a branch's expiry may be: a longer `--ttl` (`create`, `extend`) is refused"),
    Setting("BRANCH_INSTANCE_CLASS", "DEVDB_BRANCH_INSTANCE_CLASS", SERVERLESS_CLASS, instance_class, "devdb.E008",
            "writer class of branches; `db.serverless` runs at the lowest capacity the source's version allows"),
    Setting("PING_URL", "DEVDB_PING_URL", None, ping_url, "devdb.E017",
            "http(s) URL `refresh_devdb` pings: `/start`, then the URL itself on success or `/fail` "
            "(healthchecks.io / Cronitor style)"),
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
            "masking rules: `\"app_label.ModelName\"` or `\"table:[schema.]name\"` → a dict of rules for its "
            "fields / columns, or `\"keep\"` / `\"truncate\"`"),
    Setting("MASKING_SCHEMAS", "DEVDB_MASKING_SCHEMAS", [], names, "devdb.E016",
            "schemas (PostgreSQL) / databases (MySQL) the masking gate reads and masks besides the connection's own "
            "(comma-separated in env)", "all but system ones"),
    Setting("MASKING_WORKERS", "DEVDB_MASKING_WORKERS", 2, integer(1, "an integer >= 1"), "devdb.E006",
            "connections masking uses at once, each masking its own primary-key range of a table"),
)
TARGET_VARIABLE = "DEVDB_TARGET"  # names the one target the example project reads from the environment


# --- the validated settings -----------------------------------------------------------------------


def _declared(name, declarations, *first):
    """A frozen dataclass with the fields `first` then one per declaration (the key in lower case)."""
    fields = make_dataclass(name, [*first, *((s.attr, object) for s in declarations)], frozen=True)
    fields.__module__ = __name__
    return fields


class Target(_declared("TargetFields", TARGET_SETTINGS, ("name", str))):
    """One target, validated: `name` and one attribute per TARGET_SETTINGS entry."""

    @property
    def source_id(self):
        """The source cluster's identifier (lower case), also when SOURCE_CLUSTER is a shared cluster's ARN."""
        return self.source_cluster.rsplit(":", 1)[-1].lower()

    @property
    def cross_account(self):
        """SOURCE_CLUSTER is the ARN of a cluster shared from another account: AWS allows one clone of it
        in this account at a time, so the previous clone is deleted before the next restore."""
        return (self.source_cluster or "").startswith("arn:")

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
    known = {*environment_variables(), *OTHER_VARIABLES, *also, target.get("MASTER_PASSWORD_ENV")}
    unknown = sorted(v for v in environ if v.startswith("DEVDB_") and v not in known and not v.startswith(OTHER_PREFIXES))
    devdb["TARGETS"] = {name: FromEnvironment(target, {**variables, None: TARGET_VARIABLE}, unknown)}
    return FromEnvironment(devdb, global_variables, unknown)


def likely_variable(variable):
    """The declared variable a mistyped one most likely meant (difflib), or None."""
    close = difflib.get_close_matches(variable, environment_variables(), n=1)
    return close[0] if close else None


def unknown_variables():
    """One line per DEVDB_* variable nothing reads (from_environment's `unknown`), naming the likely one:
    `manage.py check` warns (devdb.W001) and every command warns on stderr before it runs."""
    raw = getattr(django_settings, "DEVDB", None)
    lines = []
    for variable in getattr(raw, "unknown", ()):
        meant = likely_variable(variable)
        lines.append(f"{variable} is set, but no setting reads it"
                     + (f" (did you mean {meant}?)" if meant else " (see the README, \"Configuration\")"))
    return lines


def in_user_terms(target_name, message):
    """An error about a target's setting (`SOURCE_CLUSTER: cluster prod does not exist`, found by asking AWS)
    naming the environment variable instead when the target was read from the environment, as the user set it."""
    raw = getattr(django_settings, "DEVDB", None)
    target = raw.get("TARGETS", {}).get(target_name) if isinstance(raw, dict) and isinstance(raw.get("TARGETS"), dict) else None
    variables = {key: var for key, var in getattr(target, "variables", {}).items() if key}
    if not variables:
        return message
    keys = "|".join(sorted(map(re.escape, variables), key=len, reverse=True))
    return re.sub(rf"(?<![\w'])({keys})(?![\w'])", lambda match: variables[match[1]], message)


# Variables django-devdb reads itself that are no setting: a secret kept out of settings files.
OTHER_VARIABLES = ("DEVDB_MASKING_KEY",)  # the key of keyed masking rules (devdb.masking.rules.KEY_ENV)
# Families of variables read by others: the sandbox (DEVDB_SANDBOX_NOW, _SCALE...) and this repository's test suite.
OTHER_PREFIXES = ("DEVDB_SANDBOX_", "DEVDB_TEST_")


def environment_variables():
    """Every variable a declared setting is read from."""
    return [s.env for s in TARGET_SETTINGS + GLOBAL_SETTINGS if s.env] + [TARGET_VARIABLE]


def normalize_name(name):
    return name.rstrip(".").lower() + "."


def unknown_target(name, targets):
    known = ", ".join(sorted(targets)) or "none"
    return f"unknown target {name!r} (configured: {known})"


def _values(declarations, raw, bad, only=None):
    """Parse every declared key of raw (defaults for the missing ones); report unknown and missing keys.

    only: the keys a command uses; the others are left unparsed at their defaults (None if required).
    """
    declared = {s.key: s for s in declarations}
    for key in sorted(set(raw) - set(declared), key=str):
        bad("devdb.E012", key, "is not a known setting", f"Known settings: {', '.join(declared)}.")
    values = {}
    for setting in declarations:
        if only is not None and setting.key not in only:
            values[setting.key] = None if setting.required else setting.default
            continue
        value = raw.get(setting.key, None if setting.required else setting.default)
        if setting.required and value in (None, ""):
            hint = f"Set it, or the environment variable {setting.env}." if setting.env else ""
            typo = [v for v in getattr(raw, "unknown", ()) if setting.env and likely_variable(v) == setting.env]
            bad("devdb.E002", setting.key, "is required" + (f" ({typo[0]} is set: did you mean {setting.env}?)" if typo else ""),
                hint)
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


def _parse_target(name, raw, problems, only=None):
    """Validate one target's dict; append Problems; return a Target or None."""
    path = f"DEVDB['TARGETS'][{name!r}]"
    before = len(problems)
    if not isinstance(raw, dict):
        problems.append(Problem("devdb.E001", path, "must be a dict of settings"))
        return None
    bad = _reporter(path, raw, problems, TARGET_SETTINGS)
    if name_problem := lifecycle.identifier_problem(name):
        bad("devdb.E003", None, f"target name {name_problem}", "Target names become tag values and clone prefixes.")
    values = _values(TARGET_SETTINGS, raw, bad, only)

    # RDS stores identifiers in lower case; so are clone names.
    given = values.get("CLONE_PREFIX")
    prefix = (given or name).lower() if isinstance(given or name, str) else None
    longest = lifecycle.PREFIX_MAX
    if given or not name_problem:  # else the prefix is the bad target name, already reported
        if problem := lifecycle.identifier_problem(prefix, longest):
            bad("devdb.E004", "CLONE_PREFIX", problem if "(got" in problem else f"{problem} (got {prefix!r})",
                f"Clusters are named <CLONE_PREFIX>-YYYYMMDD and their writers <CLONE_PREFIX>-YYYYMMDD-1, at most "
                f"63 characters, so the prefix has at most {longest}.")
        elif values.get("SOURCE_CLUSTER") and prefix == values["SOURCE_CLUSTER"].rsplit(":", 1)[-1].lower():
            bad("devdb.E004", "CLONE_PREFIX", "must differ from SOURCE_CLUSTER")
    values["CLONE_PREFIX"] = prefix
    if str(values.get("SOURCE_CLUSTER") or "").startswith("arn:") and values.get("KEEP_ABORTED"):
        bad("devdb.E006", "KEEP_ABORTED", f"must be 0 when SOURCE_CLUSTER is an ARN (got {values['KEEP_ABORTED']}): AWS "
            "allows one clone of a cluster shared from another account per account, so none can be kept for rollback")
    if values.get("CLEAN_GRACE", 0) is None and "RECORD_TTL" in values:
        values["CLEAN_GRACE"] = 2 * values["RECORD_TTL"]
    life, longest = values.get("BRANCH_TTL"), values.get("BRANCH_MAX_TTL")
    if isinstance(life, timedelta) and isinstance(longest, timedelta) and life > longest:
        bad("devdb.E006", "BRANCH_TTL", f"must not exceed BRANCH_MAX_TTL ({raw.get('BRANCH_TTL', '3d')} > "
                                        f"{raw.get('BRANCH_MAX_TTL', '30d')})")
    low, high = values.get("SERVERLESS_MIN_ACU"), values.get("SERVERLESS_MAX_ACU")
    if low is not None and high is not None and low > high:
        bad("devdb.E014", "SERVERLESS_MIN_ACU", f"must not exceed SERVERLESS_MAX_ACU ({low:g} > {high:g})")
    if values.get("SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE") is not None and low not in (None, 0):
        bad("devdb.E014", "SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE",
            f"applies only when SERVERLESS_MIN_ACU is 0 (it is {low:g}): AWS pauses only instances that may scale to 0 ACUs")
    if values.get("MASK"):
        # Sealed until masked: restored behind the runner's groups, masked as the master user.
        for key, why in (("MASKING_SECURITY_GROUP_IDS", "the clone is reachable only through them until masked"),
                         ("MASTER_PASSWORD_ENV", "masking logs in as the clone's master user with that password")):
            if not values.get(key) and (only is None or key in only):
                named = getattr(raw, "variables", {}).get(key) or key
                bad("devdb.E016", "MASK", f"is on but {named} is not set ({why})")
        shared = sorted(set(values.get("MASKING_SECURITY_GROUP_IDS") or ()) & set(values.get("VPC_SECURITY_GROUP_IDS") or ()))
        if shared:
            names = getattr(raw, "variables", {})
            bad("devdb.E016", "MASKING_SECURITY_GROUP_IDS",
                f"shares {','.join(shared)} with {names.get('VPC_SECURITY_GROUP_IDS') or 'VPC_SECURITY_GROUP_IDS'} "
                "(the app's groups): the app could reach the clone before masking verified")

    if len(problems) > before:
        return None
    return Target(name=name, **{s.attr: values[s.key] for s in TARGET_SETTINGS})


def _parse(raw, only=None):
    problems = []
    if raw is None:
        problems.append(Problem("devdb.E001", "DEVDB", "is not set", "Add a DEVDB dict with at least one target to your settings."))
        return None, problems
    if not isinstance(raw, dict):
        problems.append(Problem("devdb.E001", "DEVDB", "must be a dict"))
        return None, problems
    global_only = None if only is None else {*only, "TARGETS"}
    values = _values(GLOBAL_SETTINGS, raw, _reporter("DEVDB", raw, problems, GLOBAL_SETTINGS), global_only)

    targets = {}
    for name, target_raw in (values.get("TARGETS") or {}).items():
        if target := _parse_target(name, target_raw, problems, only):
            targets[name] = target
    if only is None or "DATABASE" in only:
        problems.extend(_control_is_dev(values.get("DATABASE"), targets.values()))
    for target in targets.values():
        if target.mask and not values.get("MASKING") and (only is None or "MASKING" in only):
            problems.append(Problem("devdb.E016", "DEVDB['MASKING']",
                                    f"is empty but target {target.name!r} has MASK on: there are no rules to mask with"))
    shared = [t.source_cluster for t in targets.values() if t.cross_account]
    for arn in sorted({a for a in shared if shared.count(a) > 1}):
        problems.append(Problem("devdb.E003", "DEVDB['TARGETS']", f"two targets clone {arn}; AWS allows one clone of "
                                                                  "a cluster shared from another account per account"))
    prefixes = [t.clone_prefix for t in targets.values()]
    for prefix in sorted({p for p in prefixes if prefixes.count(p) > 1}):
        problems.append(Problem("devdb.E004", "DEVDB['TARGETS']", f"two targets share the clone prefix {prefix!r}"))
    if problems:
        return None, problems
    values["TARGETS"] = targets
    values["POLL_MAX"] = max(values["POLL_MAX"], values["POLL_INITIAL"])
    return DevdbSettings(**{s.attr: values[s.key] for s in GLOBAL_SETTINGS}), []


def _control_is_dev(alias, targets):
    """devdb.E009: every way the control database can be a dev database, which is replaced by a
    fresh clone every day (the history would vanish with it): the app's own database (same SQLite
    file, or same host, port and name), or a host that is a target's stable name."""
    databases = getattr(django_settings, "DATABASES", {})
    control = databases.get(alias) if isinstance(alias, str) else None
    if not isinstance(control, dict):
        return []
    hint = "The history would be replaced with each clone; use a separate control database (DEVDB_DATABASE_URL)."
    found = []
    app = databases.get("default")
    if alias != "default" and isinstance(app, dict) and _same_database(control, app):
        found.append(Problem("devdb.E009", "DEVDB['DATABASE']",
                             f"{alias!r} is the same database as 'default', the app's dev database", hint))
    host = str(control.get("HOST") or "")
    for target in targets:
        if host and normalize_name(host) == target.fqdn:
            found.append(Problem("devdb.E009", "DEVDB['DATABASE']",
                                 f"points at {target.record_name}, the dev database of target {target.name!r}", hint))
    return found


def _same_database(one, other):
    """Whether two DATABASES entries open the same database: one SQLite file, or one server's database."""
    sqlite = "django.db.backends.sqlite3"
    if (one.get("ENGINE") == sqlite) != (other.get("ENGINE") == sqlite):
        return False
    if one.get("ENGINE") == sqlite:
        def where(entry):
            name = str(entry.get("NAME") or "")
            if name.startswith("file:") or name in ("", ":memory:"):
                return None  # an in-memory database (the test runner's) is never shared
            return Path(name).expanduser().resolve()
        return where(one) is not None and where(one) == where(other)

    def server(entry):
        engine = str(entry.get("ENGINE") or "")
        port = str(entry.get("PORT") or ("5432" if "postgres" in engine else "3306" if "mysql" in engine else ""))
        return str(entry.get("HOST") or "localhost").rstrip(".").lower(), port, str(entry.get("NAME") or "")
    return server(one) == server(other)


def problems():
    """Everything wrong with settings.DEVDB, as Problems (empty when it is fine)."""
    return _parse(getattr(django_settings, "DEVDB", None))[1]


def get_settings(only=None):
    """settings.DEVDB as a DevdbSettings, or a ConfigError listing every problem, one per line.

    only: the keys (target or global) a command uses; the others are neither parsed nor checked, so
    an unrelated bad value does not stop it (the other attributes then hold raw defaults).
    """
    parsed, found = _parse(getattr(django_settings, "DEVDB", None), only)
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
        raise ConfigError(f"{var} is not a valid database URL ({what}; expected e.g. mysql://USER:PASSWORD@HOST:3306/NAME or postgres://USER:PASSWORD@HOST:5432/NAME)")
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
