"""The one place that reads settings.DEVDB.

`get_settings()` turns the dict into frozen dataclasses at call time (so override_settings works);
`problems()` lists everything wrong with it. System checks and commands share `problems()`, so a bad
setting fails the same way everywhere, before the first AWS call.
"""

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings as django_settings

from . import lifecycle
from .errors import ConfigError

PROBES = ("status", "sql")
SERVERLESS_CLASS = "db.serverless"

TARGET_DEFAULTS = {
    "CLONE_PREFIX": None,  # the target's name
    "RECORD_TTL": 60,
    "DB_SUBNET_GROUP": None,
    "VPC_SECURITY_GROUP_IDS": [],
    "PUBLICLY_ACCESSIBLE": False,
    "EXTRA_TAGS": {},
    "READY_TIMEOUT": 3600,
    "CLEAN_GRACE": None,  # 2 * RECORD_TTL
    "KEEP_ABORTED": 0,
    "READINESS_PROBE": "status",
    "POST_CLONE_SQL": [],
    "MASTER_PASSWORD_ENV": None,
    "SERVERLESS_MIN_ACU": 0.5,
    "SERVERLESS_MAX_ACU": 4,
    # None: the clone takes the source's (a restore would otherwise fall to AWS defaults).
    "DB_CLUSTER_PARAMETER_GROUP": None,
    "DB_PARAMETER_GROUP": None,
    "PORT": None,
    "KMS_KEY_ID": None,  # for an encrypted source shared from another account
    "ENGINE_LIFECYCLE_SUPPORT": None,  # passed on restore when set
    "SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE": None,
}
REQUIRED = ("SOURCE_CLUSTER", "HOSTED_ZONE_ID", "RECORD_NAME", "INSTANCE_CLASS")
TARGET_KEYS = set(REQUIRED) | set(TARGET_DEFAULTS)

GLOBAL_DEFAULTS = {
    "DATABASE": "devdb",
    "TARGETS": {},
    "POLL_INITIAL": 5,  # seconds before the first re-poll of a wait
    "POLL_MAX": 30,  # cap of the exponential backoff: a change is noticed within this
    "POLL_FACTOR": 1.5,
    "AWS_MAX_ATTEMPTS": 8,  # botocore standard retry mode, attempts per call
    "LOCK_EXPIRY": 7200,  # seconds a lease lives without renewal
    "SQL_CONNECT_TIMEOUT": 10,
    "MASKING": {},  # "app_label.ModelName" -> rules, see devdb.masking.rules
}

_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\.?$")
_ZONE_ID = re.compile(r"^(/hostedzone/)?[A-Z0-9]{1,32}$")
_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$")
_SG_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class Target:
    name: str
    source_cluster: str
    hosted_zone_id: str
    record_name: str
    instance_class: str
    clone_prefix: str
    record_ttl: int = 60
    db_subnet_group: str | None = None
    vpc_security_group_ids: tuple = ()
    publicly_accessible: bool = False
    extra_tags: tuple = ()  # ((key, value), ...): frozen
    ready_timeout: int = 3600
    clean_grace: int = 120
    keep_aborted: int = 0
    readiness_probe: str = "status"
    post_clone_sql: tuple = ()
    master_password_env: str | None = None
    serverless_min_acu: float = 0.5
    serverless_max_acu: float = 4
    db_cluster_parameter_group: str | None = None
    db_parameter_group: str | None = None
    port: int | None = None
    kms_key_id: str | None = None
    engine_lifecycle_support: str | None = None
    serverless_seconds_until_auto_pause: int | None = None

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


@dataclass(frozen=True)
class DevdbSettings:
    database: str = "devdb"
    targets: dict = field(default_factory=dict)
    poll_initial: float = 5
    poll_max: float = 30
    poll_factor: float = 1.5
    aws_max_attempts: int = 8
    lock_expiry: int = 7200
    sql_connect_timeout: int = 10
    masking: dict = field(default_factory=dict)

    def select(self, names):
        """The targets named on a command line (all of them if none), or a ConfigError."""
        if not names:
            return list(self.targets.values())
        unknown = [n for n in names if n not in self.targets]
        if unknown:
            known = ", ".join(sorted(self.targets)) or "none"
            raise ConfigError(f"unknown target {unknown[0]!r} (configured: {known})")
        return [self.targets[n] for n in dict.fromkeys(names)]

    @property
    def source_clusters(self):
        """Identifiers (lower case) of every target's source: never tagged, modified or deleted."""
        return {t.source_id for t in self.targets.values()}


@dataclass(frozen=True)
class Problem:
    id: str
    setting: str
    message: str
    hint: str = ""

    def __str__(self):
        return f"{self.setting}: {self.message}"


def normalize_name(name):
    return name.rstrip(".").lower() + "."


def record_in_zone(record_name, zone_name):
    record, zone = normalize_name(record_name), normalize_name(zone_name)
    return record != zone and record.endswith("." + zone)


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


def _parse_target(name, raw, problems):
    """Validate one target's dict; append Problems; return a Target or None."""
    where = f"DEVDB['TARGETS'][{name!r}]"
    before = len(problems)

    def bad(code, key, message, hint=""):
        problems.append(Problem(code, f"{where}[{key!r}]" if key else where, message, hint))

    if not isinstance(raw, dict):
        bad("devdb.E001", None, "must be a dict of settings")
        return None
    if problem := lifecycle.identifier_problem(name):
        bad("devdb.E003", None, f"target name {problem}", "Target names become tag values and clone prefixes.")
    for key in sorted(set(raw) - TARGET_KEYS):
        bad("devdb.E012", key, "is not a known setting", f"Known settings: {', '.join(sorted(TARGET_KEYS))}.")
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            bad("devdb.E002", key, "is required", f"Set it, or the environment variable DEVDB_{key}.")
    values = {**TARGET_DEFAULTS, **raw}

    source = values.get("SOURCE_CLUSTER")
    if source and isinstance(source, str) and source.startswith("arn:"):
        if not _CLUSTER_ARN.match(source):
            bad("devdb.E003", "SOURCE_CLUSTER", f"is not an RDS cluster ARN (got {source!r})",
                "arn:aws:rds:REGION:ACCOUNT:cluster:NAME, for a cluster shared through AWS RAM.")
    elif source and (problem := lifecycle.identifier_problem(source)):
        bad("devdb.E003", "SOURCE_CLUSTER", f"{problem} (got {source!r})", "The identifier of the Aurora cluster to clone.")
    prefix = values.get("CLONE_PREFIX") or name
    if isinstance(prefix, str):
        prefix = prefix.lower()  # RDS stores identifiers in lower case; so are clone names
    longest = lifecycle.IDENTIFIER_MAX - lifecycle.DATE_SUFFIX_LEN
    if problem := lifecycle.identifier_problem(prefix, longest):
        bad("devdb.E004", "CLONE_PREFIX", f"{problem} (got {prefix!r})",
            f"Clusters are named <CLONE_PREFIX>-YYYYMMDD, at most 63 characters, so the prefix has at most {longest}.")
    elif source and prefix == str(source).rsplit(":", 1)[-1].lower():
        bad("devdb.E004", "CLONE_PREFIX", "must differ from SOURCE_CLUSTER")

    zone_id = values.get("HOSTED_ZONE_ID")
    if zone_id and not (isinstance(zone_id, str) and _ZONE_ID.match(zone_id)):
        bad("devdb.E005", "HOSTED_ZONE_ID", f"is not a Route53 hosted zone id (got {zone_id!r})", "For example Z0123456789ABC.")
    record = values.get("RECORD_NAME")
    if record and not (isinstance(record, str) and _HOSTNAME.match(record) and "*" not in record):
        bad("devdb.E005", "RECORD_NAME", f"is not a valid DNS name (got {record!r})", "The stable name, e.g. db.dev.example.com.")

    instance_class = values.get("INSTANCE_CLASS")
    if instance_class and not (isinstance(instance_class, str) and re.fullmatch(r"db\.[a-z0-9]+(\.[a-z0-9]+)?", instance_class)):
        bad("devdb.E008", "INSTANCE_CLASS", f"must be an RDS instance class such as db.t4g.medium or db.serverless (got {instance_class!r})")

    numbers = {}
    for key, minimum, what in (
        ("RECORD_TTL", 1, "a positive integer (seconds)"),
        ("READY_TIMEOUT", 1, "a positive integer (seconds)"),
        ("KEEP_ABORTED", 0, "a non-negative integer"),
    ):
        numbers[key] = _int(values[key], minimum=minimum)
        if numbers[key] is None:
            bad("devdb.E006", key, f"must be {what} (got {values[key]!r})")
    grace = values["CLEAN_GRACE"]
    if grace in (None, ""):
        numbers["CLEAN_GRACE"] = 2 * (numbers["RECORD_TTL"] or 0)
    else:
        numbers["CLEAN_GRACE"] = _int(grace, minimum=0)
        if numbers["CLEAN_GRACE"] is None:
            bad("devdb.E006", "CLEAN_GRACE", f"must be a non-negative integer (seconds) or None (got {grace!r})",
                "None means twice RECORD_TTL.")

    probe = values["READINESS_PROBE"]
    if probe not in PROBES:
        bad("devdb.E007", "READINESS_PROBE", f"must be one of {', '.join(PROBES)} (got {probe!r})")

    groups = _list(values["VPC_SECURITY_GROUP_IDS"])
    for group in groups:
        if not (isinstance(group, str) and _SG_ID.match(group)):
            bad("devdb.E003", "VPC_SECURITY_GROUP_IDS", f"holds {group!r}, which is not a security group id (sg-...)")
    subnet = values["DB_SUBNET_GROUP"]
    if subnet not in (None, "") and not (isinstance(subnet, str) and re.fullmatch(r"[A-Za-z0-9 ._-]{1,255}", subnet)):
        bad("devdb.E003", "DB_SUBNET_GROUP", f"is not a DB subnet group name (got {subnet!r})")
    if not isinstance(values["PUBLICLY_ACCESSIBLE"], bool):
        bad("devdb.E006", "PUBLICLY_ACCESSIBLE", "must be True or False")

    extra = values["EXTRA_TAGS"] or {}
    if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        bad("devdb.E011", "EXTRA_TAGS", "must be a dict of string keys to string values")
        extra = {}
    elif clash := sorted(k for k in extra if k.startswith("devdb:") or k.startswith("aws:")):
        bad("devdb.E011", "EXTRA_TAGS", f"must not set the reserved tag {clash[0]!r}")

    scripts = _list(values["POST_CLONE_SQL"])
    for script in scripts:
        path = Path(script)
        if path.suffix != ".sql" or not path.is_file():
            bad("devdb.E010", "POST_CLONE_SQL", f"holds {script!r}, which is not a readable .sql file")
    password_env = values["MASTER_PASSWORD_ENV"]
    if password_env not in (None, "") and not (isinstance(password_env, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", password_env)):
        bad("devdb.E013", "MASTER_PASSWORD_ENV", "must be the name of an environment variable")

    acu_min = _number(values["SERVERLESS_MIN_ACU"], minimum=0)
    acu_max = _number(values["SERVERLESS_MAX_ACU"], minimum=1)
    if acu_min is None or acu_max is None or acu_min > acu_max or acu_max > 256:
        bad("devdb.E014", "SERVERLESS_MIN_ACU", "SERVERLESS_MIN_ACU and SERVERLESS_MAX_ACU must be numbers with 0 <= min <= max, 1 <= max <= 256")

    optional_ints = {}
    for key, minimum, maximum in (("PORT", 1150, 65535), ("SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE", 300, 86400)):
        raw_value = values[key]
        optional_ints[key] = None if raw_value in (None, "") else _int(raw_value, minimum=minimum)
        if raw_value not in (None, "") and (optional_ints[key] is None or optional_ints[key] > maximum):
            bad("devdb.E006", key, f"must be an integer from {minimum} to {maximum}, or unset (got {raw_value!r})")
    names = {}
    for key in ("DB_CLUSTER_PARAMETER_GROUP", "DB_PARAMETER_GROUP", "KMS_KEY_ID", "ENGINE_LIFECYCLE_SUPPORT"):
        names[key] = values[key] or None
        if names[key] is not None and not isinstance(names[key], str):
            bad("devdb.E003", key, f"must be a string, or unset (got {names[key]!r})")

    if len(problems) > before:
        return None
    return Target(
        name=name,
        source_cluster=source,
        hosted_zone_id=zone_id,
        record_name=record.rstrip("."),
        instance_class=instance_class,
        clone_prefix=prefix,
        record_ttl=numbers["RECORD_TTL"],
        db_subnet_group=subnet or None,
        vpc_security_group_ids=tuple(groups),
        publicly_accessible=values["PUBLICLY_ACCESSIBLE"],
        extra_tags=tuple(sorted(extra.items())),
        ready_timeout=numbers["READY_TIMEOUT"],
        clean_grace=numbers["CLEAN_GRACE"],
        keep_aborted=numbers["KEEP_ABORTED"],
        readiness_probe=probe,
        post_clone_sql=tuple(scripts),
        master_password_env=password_env or None,
        serverless_min_acu=acu_min,
        serverless_max_acu=acu_max,
        db_cluster_parameter_group=names["DB_CLUSTER_PARAMETER_GROUP"],
        db_parameter_group=names["DB_PARAMETER_GROUP"],
        port=optional_ints["PORT"],
        kms_key_id=names["KMS_KEY_ID"],
        engine_lifecycle_support=names["ENGINE_LIFECYCLE_SUPPORT"],
        serverless_seconds_until_auto_pause=optional_ints["SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE"],
    )


def _parse(raw):
    problems = []
    if raw is None:
        problems.append(Problem("devdb.E001", "DEVDB", "is not set", "Add a DEVDB dict with at least one target to your settings."))
        return None, problems
    if not isinstance(raw, dict):
        problems.append(Problem("devdb.E001", "DEVDB", "must be a dict"))
        return None, problems
    values = {**GLOBAL_DEFAULTS, **raw}
    for key in sorted(set(raw) - set(GLOBAL_DEFAULTS)):
        problems.append(Problem("devdb.E012", f"DEVDB[{key!r}]", "is not a known setting",
                                f"Known settings: {', '.join(sorted(GLOBAL_DEFAULTS))}."))

    alias = values["DATABASE"]
    databases = getattr(django_settings, "DATABASES", {})
    if alias not in databases:
        problems.append(Problem("devdb.E009", "DEVDB['DATABASE']", f"names {alias!r}, which is not in DATABASES",
                                "The control database holds the clone history; add it to DATABASES (DEVDB_DATABASE_URL in the example project)."))
    elif alias == "default" and len(databases) > 1:
        problems.append(Problem("devdb.E009", "DEVDB['DATABASE']", "must not be 'default', the app's dev database",
                                "The dev database is replaced every day and the history would vanish with it."))

    targets_raw = values["TARGETS"]
    targets = {}
    if not isinstance(targets_raw, dict) or not targets_raw:
        problems.append(Problem("devdb.E001", "DEVDB['TARGETS']", "must be a non-empty dict of targets"))
    else:
        for name, target_raw in targets_raw.items():
            target = _parse_target(name, target_raw, problems)
            if target:
                targets[name] = target
        host = (databases.get(alias) or {}).get("HOST") or ""
        for target in targets.values():
            if host and normalize_name(host) == target.fqdn:
                problems.append(Problem("devdb.E009", "DEVDB['DATABASE']",
                                        f"points at {target.record_name}, the dev database of target {target.name!r}",
                                        "The history would be replaced with each clone; use a separate control database."))
        prefixes = [t.clone_prefix for t in targets.values()]
        for prefix in {p for p in prefixes if prefixes.count(p) > 1}:
            problems.append(Problem("devdb.E004", "DEVDB['TARGETS']", f"two targets share the clone prefix {prefix!r}"))

    numbers = {}
    for key, minimum in (("AWS_MAX_ATTEMPTS", 1), ("LOCK_EXPIRY", 60), ("SQL_CONNECT_TIMEOUT", 1)):
        numbers[key] = _int(values[key], minimum=minimum)
        if numbers[key] is None:
            problems.append(Problem("devdb.E006", f"DEVDB[{key!r}]", f"must be an integer >= {minimum} (got {values[key]!r})"))
    for key, minimum in (("POLL_INITIAL", 0.01), ("POLL_MAX", 0.01), ("POLL_FACTOR", 1)):
        numbers[key] = _number(values[key], minimum=minimum)
        if numbers[key] is None:
            problems.append(Problem("devdb.E006", f"DEVDB[{key!r}]", f"must be a number >= {minimum} (got {values[key]!r})"))
    if problems:
        return None, problems
    return DevdbSettings(
        database=alias,
        targets=targets,
        poll_initial=numbers["POLL_INITIAL"],
        poll_max=max(numbers["POLL_MAX"], numbers["POLL_INITIAL"]),
        poll_factor=numbers["POLL_FACTOR"],
        aws_max_attempts=numbers["AWS_MAX_ATTEMPTS"],
        lock_expiry=numbers["LOCK_EXPIRY"],
        sql_connect_timeout=numbers["SQL_CONNECT_TIMEOUT"],
        masking=values["MASKING"] or {},
    ), []


def problems():
    """Everything wrong with settings.DEVDB, as Problems (empty when it is fine)."""
    return _parse(getattr(django_settings, "DEVDB", None))[1]


def get_settings():
    """settings.DEVDB as a DevdbSettings, or a ConfigError naming the first problem."""
    parsed, found = _parse(getattr(django_settings, "DEVDB", None))
    if found:
        raise ConfigError(str(found[0]))
    return parsed


def control_database():
    """The control DB alias, even when the rest of DEVDB is broken (the router needs it)."""
    raw = getattr(django_settings, "DEVDB", None)
    if isinstance(raw, dict) and isinstance(raw.get("DATABASE"), str):
        return raw["DATABASE"]
    return GLOBAL_DEFAULTS["DATABASE"]


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
