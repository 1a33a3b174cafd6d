"""The gate: nothing reaches dev unless someone decided it may. Fails closed.

Two levels. Model level (no database): every concrete field of every installed model whose table
lives in the app's database (Django's own apps, third-party apps, unmanaged models and auto-created
many-to-many tables included; proxies and swapped models are not tables of their own) has a decision.
Database level: the database itself is introspected (Flavour.introspect: every table and column of
every schema / database the connection sees, system ones excepted, or those DEVDB["MASKING_SCHEMAS"]
names) and every column of every table must be decided by a model key or a "table:" key, so tables
without a model, raw columns and other schemas are covered. An auto primary key needs no decision;
`keep` is a decision, so a new column fails until someone decides.
"""

import re

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, models, router

from .rules import decisions, find_table, is_auto_pk, masking_spec

SKIPPED_APPS = ("django.", "devdb")  # --suggest only: starter rules are for the project's own models
SHOWN = 5  # undecided names shown in one line (a refused sealed clone); the count says the rest


def masking_on(settings_obj=None):
    """Whether any masking is configured: DEVDB["MASKING"] non-empty or a target with MASK."""
    raw = getattr(settings_obj or settings, "DEVDB", None)
    if not isinstance(raw, dict):
        return False
    targets = raw.get("TARGETS")
    masked_target = isinstance(targets, dict) and any(isinstance(t, dict) and t.get("MASK") in (True, "true", "1", "True")
                                                      for t in targets.values())
    return bool(raw.get("MASKING")) or masked_target


def masking_schemas(settings_obj=None):
    """DEVDB["MASKING_SCHEMAS"]: the schemas / databases the gate and masking read (empty: all)."""
    from ..validators import Invalid, names

    raw = getattr(settings_obj or settings, "DEVDB", None)
    try:
        return names(raw.get("MASKING_SCHEMAS") if isinstance(raw, dict) else None)
    except Invalid:
        return ()  # reported by the system check; all schemas is the safe side


def own_models():
    """Models of the project's own apps: what --suggest looks at."""
    for config in apps.get_app_configs():
        if config.name.startswith(SKIPPED_APPS[0]) or config.name == SKIPPED_APPS[1]:
            continue
        for model in config.get_models():
            if model._meta.managed and not model._meta.proxy and not model._meta.swapped:
                yield model


def app_models():
    """Every model with a table of its own in the app's database (DATABASES['default'] as routed):
    Django's and third-party apps' included, unmanaged ones too; auto-created M2M tables included."""
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or meta.swapped:
            continue
        if router.allow_migrate(DEFAULT_DB_ALIAS, meta.app_label, model_name=meta.model_name, model=model) is False:
            continue  # e.g. devdb's own models, routed to the control database
        yield model


def decided_fields(model):
    """The fields of model that need a decision: concrete fields (but an auto primary key) and M2M."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    fields += [f for f in meta.local_many_to_many if f.remote_field.through._meta.auto_created]
    return fields


def undecided(spec=None):
    """Model level: ['app_label.Model.field'] of fields (of every model in the app's database) whose
    column has no decision; an auto-created many-to-many table shows as its field."""
    spec = masking_spec() if spec is None else spec
    plan = decisions(spec) if isinstance(spec, dict) else {}
    missing = []
    for model in app_models():
        meta = model._meta
        decision = plan.get((None, meta.db_table))
        if decision is not None and decision.whole:
            continue
        columns = decision.columns if decision is not None else {}
        fields = [f for f in meta.concrete_fields if not is_auto_pk(f) and f.column not in columns]
        if not fields:
            continue
        if meta.auto_created:  # the M2M table of a field of another model
            owner = meta.auto_created._meta
            field = next((f for f in owner.local_many_to_many if f.remote_field.through is model), None)
            missing.append(f"{owner.label}.{field.name if field else meta.model_name}")
            continue
        missing += [f"{meta.label}.{f.name}" for f in fields]
    return missing


def undecided_in(spec, tables):
    """Database level: what has no decision among `tables` (Flavour.introspect): 'table.column' for a
    column, 'table (no decision: N columns)' for a table nothing decides; other schemas' tables are
    named schema.table."""
    plan = decisions(spec)
    by_table = {}
    for key, decision in plan.items():
        table = find_table(tables, key)
        if table is not None:
            by_table.setdefault(id(table), []).append(decision)
    missing = []
    for table in tables:
        found = by_table.get(id(table), [])
        if any(d.whole for d in found):
            continue
        columns = {c for d in found for c in d.columns}
        open_columns = [name for name, f in table.columns.items() if name not in columns and not is_auto_pk(f)]
        if not found:
            missing.append(f"{table.name} (no decision: {len(open_columns)} column(s))" if open_columns else None)
        else:
            missing += [table.label(name) for name in open_columns]
    return [m for m in missing if m]


def summary(missing):
    """The first few undecided names and how many there are, in one line."""
    shown = ", ".join(missing[:SHOWN])
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    return f"{len(missing)} undecided: {shown}{more}"


def check_database(database, spec=None, schemas=None):
    """Database-level gate on `database` (an alias, URL or connection dict): the undecided names."""
    from .. import flavours
    from ..connections import connection_for
    from django.db import connections

    spec = masking_spec() if spec is None else spec
    with connection_for(database, "gate") as alias:
        connection = connections[alias]
        tables = flavours.for_vendor(connection.vendor).introspect(
            connection, masking_schemas() if schemas is None else schemas)
    return undecided_in(spec, tables)


PERSONAL = [
    (re.compile(r"e_?mail"), "email"),
    (re.compile(r"^(first|given|fore)_?name"), "first_name"),
    (re.compile(r"^(last|family|sur)_?name"), "last_name"),
    (re.compile(r"(user_?name|login|handle|nick_?name|screen_?name|slug)"), "hash"),
    (re.compile(r"(full_?name|^name$|display_?name|contact)"), "full_name"),
    (re.compile(r"(phone|mobile|fax|tel)"), "phone"),
    (re.compile(r"(^ip$|ip_?addr|_ip$|^ip_)"), "ip"),
    (re.compile(r"(birth|dob)"), "shift_date"),
    (re.compile(r"(password|passwd)"), "unusable_password"),
    (re.compile(r"(token|secret|api_?key|(^|_)key$|hash|salt|otp|signature|credential|session|iban|"
                r"account_?number|card|ssn|passport|tax_?id|vat|(^|_)u?uid$|guid|external_?id)"), "hash"),
    (re.compile(r"(address|street|city|postcode|zip|postal|note|comment|bio|description|message|text|body|"
                r"content|repr|data|payload|extra|meta)"), "text"),
]
FREE_TEXT = (models.TextField,)


def suggest_rule(field):
    """A starter rule for a field that may hold personal data, else None (the field is kept).

    A foreign key is kept whatever its name: it holds its target's key and follows it (mask the
    target). Usernames, ids that name people, secrets, JSON documents and free text always get a
    rule; a rule that would fail on the column's type is replaced by one that fits it."""
    name = field.name.lower()
    if field.is_relation or field.primary_key:
        return None
    if isinstance(field, models.JSONField):
        return "json"
    if isinstance(field, models.UUIDField):
        return "uuid"
    if isinstance(field, models.EmailField):
        return "email"
    if isinstance(field, models.GenericIPAddressField):
        return "ip"
    if isinstance(field, models.BinaryField):
        return "null" if field.null else "empty"
    for pattern, rule in PERSONAL:
        if pattern.search(name):
            if rule == "shift_date" and not isinstance(field, models.DateField):
                continue
            if rule in ("hash", "text", "full_name", "first_name", "last_name", "phone", "email", "unusable_password") \
                    and not isinstance(field, (models.CharField, models.TextField)):
                continue  # a number or a date named like text: not a text rule
            return _unique(field, rule)
    if isinstance(field, FREE_TEXT):
        return _unique(field, "text")
    return None


def _unique(field, rule):
    """Filler and fake names repeat: a unique column gets the keyed hash instead."""
    if field.unique and rule in ("text", "full_name", "first_name", "last_name"):
        return "hash"
    return rule


def suggestions():
    """{'app_label.Model': {field: rule or 'keep'}} for every own model: a starter DEVDB['MASKING']."""
    out = {}
    for model in own_models():
        out[model._meta.label] = {f.name: suggest_rule(f) or "keep" for f in decided_fields(model)}
    return out


def render_suggestions():
    """Python text of starter rules; fields that look personal are marked, `keep` needs a look."""
    lines = ['DEVDB["MASKING"] = {']
    for label, fields in suggestions().items():
        lines.append(f"    {label!r}: {{")
        for name, rule in fields.items():
            note = "  # looks personal" if rule != "keep" else "  # check: kept as is"
            lines.append(f"        {name!r}: {rule!r},{note}")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines)
