"""Masking rules, declared per model and field in DEVDB["MASKING"], resolved through model meta.

    DEVDB["MASKING"] = {
        "shop.Customer": {"email": "email", "first_name": "first_name", "notes": Text(max_length=40),
                          "birth_date": "shift_date", "id": "keep"},
        "sessions.Session": "truncate",        # a model-level rule
        "shop.Order": "keep",                  # every field kept, as one decision
    }

Tables without a model, columns no model declares, and tables in another schema (PostgreSQL) or
database (MySQL) are decided with a "table:" key, column name -> rule, beside the model keys:

        "table:legacy_contacts": {"email": "email", "id": "keep"},   # the connection's own schema
        "table:archive.old_orders": "truncate",                       # schema (PG) / database (MySQL) "archive"

A field rule is a name from RULES, a Rule instance, or a callable ``f(column) -> SQL expression``
(a custom rule; ``column`` is the Column below). A rule writes one SQL expression computing the
masked value from the column's current value; all of a table's expressions go into one UPDATE.
Generated values keep NULL as NULL. Keyed rules use HMAC-SHA256 with DEVDB_MASKING_KEY, computed in
SQL, so the same input gives the same output every day and across tables, and nothing can be
reversed without the key.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from ..errors import ConfigError

SAFE_DOMAIN = "example.invalid"  # RFC 2606: can never deliver mail
KEY_ENV = "DEVDB_MASKING_KEY"
# Choices are written into SQL: plain letters only.
FIRST_NAMES = ("Alex", "Blair", "Casey", "Dana", "Eden", "Finley", "Gray", "Harper", "Indigo", "Jules", "Kai",
               "Logan", "Morgan", "Noor", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor", "Uma", "Val",
               "Wren", "Yael", "Zuri", "Ari", "Bo", "Cruz", "Dale", "Emery", "Fran", "Gale")
LAST_NAMES = ("Ashdown", "Brookfield", "Carrow", "Dunmore", "Elsworth", "Fenwick", "Glenholm", "Hartwell",
              "Ivesdale", "Jarrow", "Kestrel", "Langley", "Marlow", "Northcote", "Oakhurst", "Pemberly",
              "Quarry", "Rowntree", "Stanway", "Thornby", "Underhill", "Vantage", "Westbury", "Yarrow",
              "Alder", "Birch", "Copse", "Dell", "Elm", "Fallow", "Grove", "Heath")
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris")


KEY_MIN_BYTES = 32


class Key:
    """DEVDB_MASKING_KEY as HMAC pads, passed to SQL as parameters (never written into SQL text, and
    only through the driver's own cursor, which Django's SQL debug log does not see: see apply.raw_cursor).

    `id` names the key without revealing it (an HMAC of a fixed text): the resume fingerprint uses it."""

    def __init__(self, secret):
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(raw) < KEY_MIN_BYTES:
            raise ConfigError(f"{KEY_ENV} is {'empty' if not raw else f'too short ({len(raw)} bytes)'}: masking needs "
                              f"at least {KEY_MIN_BYTES} random bytes (e.g. python -c 'import secrets; "
                              "print(secrets.token_urlsafe(32))')")
        self.raw = raw
        block = hashlib.sha256(raw).digest() if len(raw) > 64 else raw
        block = block.ljust(64, b"\0")
        self.params = {"ipad": bytes(b ^ 0x36 for b in block).hex(), "opad": bytes(b ^ 0x5C for b in block).hex()}
        self.id = hmac.new(raw, b"devdb masking key id", hashlib.sha256).hexdigest()[:16]

    def secrets(self):
        """Every form of the key material an error text could carry: what one_line() hides."""
        raw = self.raw.decode(errors="replace")
        return [raw, self.raw.hex(), *self.params.values()]

    def __repr__(self):
        return f"Key(id={self.id})"

    def hmac(self, text):
        """What the SQL computes, in Python (for tests and checks)."""
        return hmac.new(self.raw, str(text).encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_env(cls, environ):
        secret = environ.get(KEY_ENV, "")
        if not secret:
            raise ConfigError(f"{KEY_ENV} is not set: masking needs a secret key (same key -> same masked values)")
        return cls(secret)


@dataclass
class Column:
    """What a rule sees of one column: its quoted SQL name, the row's primary key, the field, the
    flavour (SQL helpers) and the HMAC helper. Custom rules build their expression from these."""

    sql: str  # quoted column name
    pk: str  # quoted primary key column
    field: object  # the Django field (None for a value inside a JSON document)
    flavour: object
    connection: object = None
    params: dict = None  # filled by param()
    hashes: dict = None  # {SQL expression: alias}: HMACs computed once per row (see Masking.update_sql)
    source: str = None  # the value as text, written the same on every engine (default: flavour.value_text)

    def __post_init__(self):
        if self.source is None:
            self.source = self.flavour.value_text(self.sql, self.field, self.connection)

    @property
    def unique(self):
        return bool(self.field is not None and (self.field.unique or self.field.primary_key))

    @property
    def max_length(self):
        return getattr(self.field, "max_length", None)

    def param(self, value):
        """A placeholder for value, passed to the database as a parameter."""
        column = self.field.column if self.field is not None else "json"
        name = f"p{len(self.params)}_{''.join(ch for ch in column if ch.isalnum())}"
        self.params[name] = value
        return f"%({name})s"

    def hmac(self, expr=None):
        """SQL: hex HMAC-SHA256 (DEVDB_MASKING_KEY) of expr (default: this column's value). In an
        UPDATE each distinct expression is computed once per row, however often rules refer to it."""
        expr = expr or self.source
        if self.hashes is None:
            return self.flavour.hmac_sha256(expr, "ipad", "opad")
        return self.flavour.hash_ref(self.hashes.setdefault(expr, f"devdb_h{len(self.hashes)}"))

    def number(self, expr=None, digits=8):
        """SQL: a keyed, non-negative integer derived from expr (default: this column)."""
        return self.flavour.hex_to_int(self.hmac(expr), digits)


class Rule:
    """One masking decision for a column. Subclasses set `name` and implement sql(column).

    `constant` rules give every row the same value (verified by checking the value directly);
    the others produce a value derived from the row (verified against a sample of source values).
    """

    name = ""
    constant = False
    version = 1  # raised when the rule's output changes, so that the rules fingerprint changes too

    def sql(self, column):
        """The SQL expression of the masked value (may use column.sql, column.pk, column.hmac())."""
        raise NotImplementedError

    def unique_length(self, field):
        """The column length the rule's output needs to stay unique (None: it does not try)."""
        return None

    def describe(self):
        """A stable text for the rules fingerprint: name and arguments."""
        args = {k: v for k, v in sorted(vars(self).items())}
        name = self.name if self.version == 1 else f"{self.name}@{self.version}"
        return f"{name}{json.dumps(args, sort_keys=True, default=str) if args else ''}"

    def __repr__(self):
        return self.describe()


class Keep(Rule):
    """An explicit decision to keep the column as it is (not personal)."""

    name = "keep"

    def sql(self, column):
        return None


class Null(Rule):
    name = "null"
    constant = True
    value = None

    def sql(self, column):
        return "NULL"


class Empty(Rule):
    name = "empty"
    constant = True
    value = ""

    def sql(self, column):
        return "''"


class Fixed(Rule):
    """Every row gets `value` (passed as a parameter)."""

    name = "fixed"
    constant = True

    def __init__(self, value):
        self.value = value

    def sql(self, column):
        return column.param(self.value)


class Email(Rule):
    """u<20 hex digits of the keyed hash of the address>@example.invalid: it depends on the address
    only, so the same address masks the same in every table; 80 bits keep distinct addresses
    distinct in practice (a unique column stays unique, which verification checks)."""

    name = "email"
    version = 2  # 1: u<16 hex>[.<pk> in a unique column]@...
    digits = 20

    def __init__(self, domain=SAFE_DOMAIN):
        self.domain = domain

    def unique_length(self, field):
        return 1 + self.digits + 1 + len(self.domain)

    def sql(self, column):
        return column.flavour.concat("'u'", column.flavour.left(column.hmac(), self.digits), f"'@{self.domain}'")


class _Pick(Rule):
    """A fake name with a keyed tag, e.g. 'Casey-3f2': readable, chosen by the keyed hash of the value,
    and never a real person's name (so never the source value nor another row's)."""

    choices = ()

    def sql(self, column):
        f = column.flavour
        h = column.hmac()
        return f.concat(f.pick(f.hex_to_int(h, 8), self.choices), "'-'", f"SUBSTR({h}, 9, 3)")


class FirstName(_Pick):
    name = "first_name"
    choices = FIRST_NAMES


class LastName(_Pick):
    name = "last_name"
    choices = LAST_NAMES


class FullName(Rule):
    name = "full_name"

    def sql(self, column):
        f = column.flavour
        h = column.hmac()
        first = f.pick(f.hex_to_int(h, 8), FIRST_NAMES)
        last = f.pick(f.hex_to_int(f"SUBSTR({h}, 9, 8)", 8), LAST_NAMES)
        return f.concat(first, "' '", last, "' '", f.left(h, 4))


class Phone(Rule):
    """+1 555 01xx xxxx x0123456789: a number in the range reserved for fiction and an extension,
    16 keyed digits (53 bits): the same number masks the same everywhere, distinct numbers stay
    distinct in practice. A shorter column keeps the first characters."""

    name = "phone"
    version = 2  # 1: +1 555 01xx xxxx
    length = 28

    def unique_length(self, field):
        return self.length

    def sql(self, column):
        f = column.flavour
        h = column.hmac()
        return f.concat("'+1 555 01'", f.lpad(f"MOD({f.hex_to_int(h, 8)}, 100)", 2),
                        "' '", f.lpad(f"MOD({f.hex_to_int(f'SUBSTR({h}, 9, 8)', 8)}, 10000)", 4),
                        "' x'", f.lpad(f"MOD({f.hex_to_int(f'SUBSTR({h}, 17, 15)', 15)}, 10000000000)", 10))


class Text(Rule):
    """Free text replaced by filler of at most max_length characters (and the field's max_length)."""

    name = "text"

    def __init__(self, max_length=64):
        self.max_length = int(max_length)

    def sql(self, column):
        f = column.flavour
        limit = min(self.max_length, column.max_length or self.max_length)
        return f.left(f.concat("'masked '", f.left(column.hmac(), 8), f"' {LOREM}'"), limit)


def ipv4_only(field):
    """Whether a column holds IPv4 addresses only (too short for IPv6, or protocol="IPv4")."""
    if field is None:
        return False
    if getattr(field, "protocol", "both").lower() == "ipv4":
        return True
    return field.get_internal_type() == "CharField" and (field.max_length or 0) < 39


class IPAddress(Rule):
    """An IPv6 address in 2001:db8::/32 (documentation, RFC 3849) with 72 keyed bits, written in
    canonical form (every group 'a' and 3 hex digits): the same address masks the same in every table
    and on both engines, and distinct addresses stay distinct in practice. An IPv4-only column gets
    an address in 192.0.2.0/24 (TEST-NET-1, RFC 5737): 254 values, so not on a unique column."""

    name = "ip"
    version = 2  # 1: 192.0.2.x everywhere

    def unique_length(self, field):
        return 1000 if ipv4_only(field) else 38  # IPv4-only: cannot stay unique

    def sql(self, column):
        f = column.flavour
        h = column.hmac()
        if ipv4_only(column.field):
            return f.concat("'192.0.2.'", f.text(f"1 + MOD({f.hex_to_int(h, 8)}, 254)"))
        groups = [f"SUBSTR({h}, {1 + 3 * i}, 3)" for i in range(6)]
        return f.concat("'2001:db8:a'", *[part for g in groups for part in (g, "':a'")][:-1])


class Uuid(Rule):
    """A keyed random-looking UUID (version 4 and its variant bits set, 122 bits of the HMAC, 32 hex
    digits without dashes): for uuids that identify people."""

    name = "uuid"

    def sql(self, column):
        f = column.flavour
        h = column.hmac()
        variant = f.pick(f.hex_to_int(f"SUBSTR({h}, 17, 1)", 1), ("8", "9", "a", "b"))
        return f.concat(f"SUBSTR({h}, 1, 12)", "'4'", f"SUBSTR({h}, 14, 3)", variant, f"SUBSTR({h}, 18, 15)")


class ShiftDate(Rule):
    """The date (or datetime) moved by 1..max_days days, forward or back, keyed by the row."""

    name = "shift_date"

    def __init__(self, max_days=180):
        self.max_days = int(max_days)

    def sql(self, column):
        f = column.flavour
        r = f"MOD({column.number(f.text(column.pk), 8)}, {2 * self.max_days})"
        days = f"({r} - {self.max_days} + CASE WHEN {r} >= {self.max_days} THEN 1 ELSE 0 END)"  # never 0
        return f"CASE WHEN {column.sql} IS NULL THEN NULL ELSE {f.add_days(column.sql, days)} END"


class Hash(Rule):
    """HMAC-SHA256 (hex) of the value: consistent across tables and days, irreversible without the key.

    The first `length` hex digits (default: 64, cut to the column's max_length): give joined columns
    of different lengths the same `length` so that their values still match."""

    name = "hash"

    def __init__(self, length=None):
        self.length = length

    def sql(self, column):
        return column.flavour.left(column.hmac(), self.length) if self.length else column.hmac()


class UnusablePassword(Rule):
    """Django's unusable password: '!' and 40 characters (check_password() is always False)."""

    name = "unusable_password"

    def sql(self, column):
        f = column.flavour
        return f.concat("'!'", f.left(column.hmac(f.text(column.pk)), 40))


class Json(Rule):
    """A JSON document (JSONField, or JSON in a text column), NULL stays NULL.

    Json() / Json(replace=value): the whole document replaced by `value` (default {}).
    Json(keys=["email", "profile.phone"]): those keys' values replaced by their keyed hash; or
    Json(keys={"email": "email", "profile.name": "full_name"}) with a rule per key (a rule giving
    text: email, first_name, last_name, full_name, phone, ip, uuid, text, hash, null, empty, Fixed).
    A key that is missing stays missing; a dotted key names a key inside an object. The same value
    masks as it would in a column of its own."""

    name = "json"
    KEY = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
    NOT_IN_JSON = ("keep", "truncate", "json", "shift_date", "unusable_password")

    def __init__(self, keys=None, replace=None):
        if keys is not None and replace is not None:
            raise ValueError("Json(): give keys or replace, not both")
        self.replace = None
        self.keys = None
        if keys is None:
            self.replace = json.dumps({} if replace is None else replace, sort_keys=True, separators=(",", ":"))
            return
        keys = dict.fromkeys(keys, "hash") if isinstance(keys, (list, tuple, set)) else dict(keys)
        if not keys:
            raise ValueError("Json(keys=...) names no key")
        self.keys = {}
        for path, spec in keys.items():
            if not isinstance(path, str) or not self.KEY.match(path):
                raise ValueError(f"Json(): key {path!r} must be letters, digits and _ (dots for nested keys)")
            rule = make_rule(spec)
            if rule.name in self.NOT_IN_JSON:
                raise ValueError(f"Json(): {rule.name!r} cannot mask a value inside a JSON document")
            self.keys[path] = rule

    @property
    def constant(self):
        return self.replace is not None

    @property
    def value(self):
        return self.replace

    def _parts(self, column):
        for path, rule in self.keys.items():
            inner = column.flavour.json_value(column.sql, path.split("."))
            yield path, rule, Column(inner, column.pk, None, column.flavour, column.connection, column.params,
                                     column.hashes, inner)

    def sql(self, column):
        f = column.flavour
        if self.replace is not None:
            return f"CASE WHEN {column.sql} IS NULL THEN NULL ELSE {f.json_literal(column.param(self.replace))} END"
        return f.json_replace(column.sql, [(path.split("."), rule.sql(inner)) for path, rule, inner in self._parts(column)])

    def describe(self):
        if self.replace is not None:
            return f"json{json.dumps({'replace': self.replace})}"
        return f"json{json.dumps({p: r.describe() for p, r in self.keys.items()}, sort_keys=True)}"


class Custom(Rule):
    """A callable ``f(column) -> SQL expression``, as a rule."""

    name = "custom"

    def __init__(self, function):
        self.function = function

    def sql(self, column):
        return self.function(column)

    def describe(self):
        return f"custom:{getattr(self.function, '__module__', '')}.{getattr(self.function, '__qualname__', repr(self.function))}"


class Truncate(Rule):
    """Model-level: delete every row of the table (sessions, tokens, logs)."""

    name = "truncate"


RULES = {cls.name: cls for cls in (Keep, Null, Empty, Email, FirstName, LastName, FullName, Phone, Text,
                                   IPAddress, Uuid, Json, ShiftDate, Hash, UnusablePassword, Truncate)}
MODEL_RULES = ("keep", "truncate")


def make_rule(spec):
    """A Rule from a setting value: a name, a Rule, or a callable; ValueError if it is none of them."""
    if isinstance(spec, Rule):
        return spec
    if isinstance(spec, str):
        if spec not in RULES or spec == "truncate":
            raise ValueError(f"unknown rule {spec!r} (known: {', '.join(sorted(n for n in RULES if n != 'truncate'))}, "
                             "or a Rule, or a callable returning SQL)")
        return RULES[spec]()
    if isinstance(spec, type) and issubclass(spec, Rule):
        return spec()
    if callable(spec):
        return Custom(spec)
    raise ValueError(f"{spec!r} is not a rule (a rule name, a Rule, or a callable returning SQL)")


TABLE_PREFIX = "table:"


def table_key(label):
    """(schema or None, table) of a "table:[schema.]name" key; None: the connection's own schema."""
    schema, _, name = label[len(TABLE_PREFIX):].rpartition(".")
    return schema or None, name


def is_auto_pk(field):
    """An auto-incremented primary key: needs no decision (it is no one's data)."""
    return bool(field.primary_key and isinstance(field, (models.AutoField, models.BigAutoField, models.SmallAutoField)))


@dataclass
class Decision:
    """What DEVDB["MASKING"] decides for one database table."""

    label: str  # the key that decided it: "app_label.Model", "app_label.Model.m2m_field" or "table:..."
    model: object = None
    whole: str | None = None  # "keep" or "truncate" for the whole table
    columns: dict = dataclass_field(default_factory=dict)  # column -> (rule as written, model field or None, where)


def decisions(spec):
    """{(schema or None, table): Decision} for every table the spec decides, in the spec's order.

    A model key decides its db_table (in the connection's own schema): field names become columns,
    its auto primary key is kept, and each auto-created many-to-many table takes the rule of its
    field (or the model's whole-table rule). A "table:" key decides a table by name, column by column.
    """
    out = {}

    def at(key, label, model=None):
        decision = out.setdefault(key, Decision(label))
        decision.model = decision.model or model
        return decision

    for label, rules in spec.items():
        if label.startswith(TABLE_PREFIX):
            decision = at(table_key(label), label)
            if isinstance(rules, str):
                decision.whole = rules
            else:
                for column, rule in rules.items():
                    decision.columns[column] = (rule, None, f"DEVDB['MASKING'][{label!r}][{column!r}]")
            continue
        meta = apps.get_model(label)._meta
        if meta.swapped:
            continue
        decision = at((None, meta.db_table), label, meta.model)
        m2m = [f for f in meta.local_many_to_many if f.remote_field.through._meta.auto_created]
        if isinstance(rules, str):
            decision.whole = rules
            for f in m2m:
                at((None, f.remote_field.through._meta.db_table), f"{label}.{f.name}").whole = rules
            continue
        if meta.pk is not None and is_auto_pk(meta.pk):
            decision.columns.setdefault(meta.pk.column, ("keep", meta.pk, label))
        for name, rule in rules.items():
            f = meta.get_field(name)
            if f.many_to_many:
                if f.remote_field.through._meta.auto_created:
                    at((None, f.remote_field.through._meta.db_table), f"{label}.{name}").whole = rule
                continue
            decision.columns[f.column] = (rule, f, f"DEVDB['MASKING'][{label!r}][{name!r}]")
    return out


def find_table(tables, key):
    """The introspected Table for a decision's (schema or None, name), or None."""
    schema, name = key
    for table in tables:
        if table.name.name == name and (table.schema == schema or (schema is None and table.own)):
            return table
    return None


@dataclass
class TableRules:
    """The rules of one database table, resolved through model meta."""

    label: str  # app_label.ModelName (for an M2M table: ...ModelName.field)
    model: object
    table: str
    pk: str | None  # primary key column; None when there is no single-column key
    pk_field: object
    columns: list  # [(column name, field, Rule)] for columns that change
    truncate: bool = False


def masking_spec(settings=None):
    """DEVDB["MASKING"] as written (a dict; {} when unset)."""
    if settings is None:
        from django.conf import settings
    raw = getattr(settings, "DEVDB", None)
    spec = raw.get("MASKING") if isinstance(raw, dict) else None
    return spec or {}


def _model(label):
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def unique_problem(rule, field):
    """Why `rule` cannot keep a unique column unique (the column is too short), or None."""
    if not (field.unique or field.primary_key):
        return None
    need = rule.unique_length(field)
    if need is None or not field.max_length or field.max_length >= need:
        return None
    if need >= 1000:
        return f"{rule.name!r} cannot keep a unique IPv4-only column unique: use a custom rule"
    return f"{rule.name!r} needs {need} characters to keep a unique column unique (max_length is {field.max_length})"


def problems(spec):
    """[(id, message)] for rules naming models, fields or rules that do not exist."""
    found = []
    if not isinstance(spec, dict):
        return [("devdb.E030", "DEVDB['MASKING'] must be a dict of 'app_label.ModelName' to rules")]
    for label, rules in spec.items():
        if isinstance(label, str) and label.startswith(TABLE_PREFIX):
            found += _table_problems(label, rules)
            continue
        model = _model(label) if isinstance(label, str) else None
        where = f"DEVDB['MASKING'][{label!r}]"
        if model is None:
            found.append(("devdb.E030", f"{where} names a model that does not exist (use 'app_label.ModelName')"))
            continue
        if isinstance(rules, str):
            if rules not in MODEL_RULES:
                found.append(("devdb.E032", f"{where} is {rules!r}: a model-level rule must be one of {', '.join(MODEL_RULES)}"))
            continue
        if not isinstance(rules, dict):
            found.append(("devdb.E032", f"{where} must be a dict of field name to rule, or 'keep' / 'truncate'"))
            continue
        for name, rule in rules.items():
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                found.append(("devdb.E031", f"{where}[{name!r}] names a field that {label} does not have"))
                continue
            if field.many_to_many:
                if rule not in MODEL_RULES:
                    found.append(("devdb.E032", f"{where}[{name!r}] is a many-to-many table: its rule is 'keep' or 'truncate'"))
                continue
            if not getattr(field, "concrete", False):  # e.g. a reverse relation
                found.append(("devdb.E031", f"{where}[{name!r}] is not a column of {label}"))
                continue
            try:
                made = make_rule(rule)
            except ValueError as exc:
                found.append(("devdb.E032", f"{where}[{name!r}]: {exc}"))
                continue
            if message := unique_problem(made, field):
                found.append(("devdb.E032", f"{where}[{name!r}]: {message}"))
    return found


def _table_problems(label, rules):
    where = f"DEVDB['MASKING'][{label!r}]"
    if not table_key(label)[1]:
        return [("devdb.E030", f"{where} names no table (use 'table:name' or 'table:schema.name')")]
    if isinstance(rules, str):
        if rules not in MODEL_RULES:
            return [("devdb.E032", f"{where} is {rules!r}: a whole-table rule must be one of {', '.join(MODEL_RULES)}")]
        return []
    if not isinstance(rules, dict):
        return [("devdb.E032", f"{where} must be a dict of column name to rule, or 'keep' / 'truncate'")]
    found = []
    for column, rule in rules.items():
        try:
            make_rule(rule)
        except ValueError as exc:
            found.append(("devdb.E032", f"{where}[{column!r}]: {exc}"))
    return found


def resolve(spec, tables=None):
    """[TableRules] for the spec on a database whose introspected tables are `tables` (see
    Flavour.introspect), or a ConfigError naming the first bad rule. Decided tables the database does
    not hold are skipped. Without `tables`: the model keys alone, through model meta."""
    if found := problems(spec):
        raise ConfigError(found[0][1])
    if tables is not None:
        return _resolve_tables(spec, tables)
    tables = []
    for label, rules in spec.items():
        if label.startswith(TABLE_PREFIX):  # needs the database's tables
            continue
        model = apps.get_model(label)
        meta = model._meta
        pk = meta.pk if meta.pk is not None and getattr(meta.pk, "column", None) else None
        if rules in MODEL_RULES:
            if rules == "truncate":
                tables.append(TableRules(label, model, meta.db_table, pk and pk.column, pk, [], truncate=True))
            continue
        columns = []
        for name, spec_rule in rules.items():
            field = meta.get_field(name)
            if field.many_to_many:
                if spec_rule == "truncate":
                    through = field.remote_field.through._meta
                    tables.append(TableRules(f"{label}.{name}", field.remote_field.through, through.db_table,
                                             through.pk.column, through.pk, [], truncate=True))
                continue
            rule = make_rule(spec_rule)
            if not isinstance(rule, Keep):
                columns.append((field.column, field, rule))
        if columns:
            if pk is None:
                raise ConfigError(f"DEVDB['MASKING'][{label!r}]: masking needs a single-column primary key")
            tables.append(TableRules(label, model, meta.db_table, pk.column, pk, columns))
    return tables


def _resolve_tables(spec, tables):
    resolved = []
    for key, decision in decisions(spec).items():
        table = find_table(tables, key)
        if table is None or decision.whole == "keep":
            continue
        meta = decision.model._meta if decision.model is not None else None
        pk = meta.pk if meta is not None and meta.pk is not None and meta.pk.column in table.columns else table.pk
        if decision.whole == "truncate":
            resolved.append(TableRules(decision.label, decision.model, table.name, pk and pk.column, pk, [], truncate=True))
            continue
        columns = []
        for column, (spec_rule, fld, where) in decision.columns.items():
            rule = make_rule(spec_rule)
            if isinstance(rule, Keep):
                continue
            if column not in table.columns:
                raise ConfigError(f"{where}: the database's table {table.name} has no column {column!r}")
            columns.append((column, fld or table.columns[column], rule))
        if columns:
            if pk is None:
                raise ConfigError(f"DEVDB['MASKING'][{decision.label!r}]: masking {table.name} needs a single-column primary key")
            resolved.append(TableRules(decision.label, decision.model, table.name, pk.column, pk, columns))
    return resolved


def fingerprint(tables):
    """sha256 of what the rules do (tables, columns, rules), short: the same rules, the same print."""
    canonical = [[t.table, t.truncate, [[c, r.describe()] for c, _f, r in t.columns]] for t in tables]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:16]
