"""The gate: every column of the project's own models carries a masking decision while masking is on.

"Own models" are those of installed apps other than Django's (django.*) and devdb. Auto-created
primary keys need no decision. `keep` is a decision, so a new column fails CI until someone decides.
"""

import re

from django.apps import apps
from django.conf import settings
from django.db import models

from .rules import masking_spec

SKIPPED_APPS = ("django.", "devdb")


def masking_on(settings_obj=None):
    """Whether any masking is configured: DEVDB["MASKING"] non-empty or a target with MASK."""
    raw = getattr(settings_obj or settings, "DEVDB", None)
    if not isinstance(raw, dict):
        return False
    targets = raw.get("TARGETS")
    masked_target = isinstance(targets, dict) and any(isinstance(t, dict) and t.get("MASK") in (True, "true", "1", "True")
                                                      for t in targets.values())
    return bool(raw.get("MASKING")) or masked_target


def own_models():
    """Models of the project's own apps: what the gate and --suggest look at."""
    for config in apps.get_app_configs():
        if config.name.startswith(SKIPPED_APPS[0]) or config.name == SKIPPED_APPS[1]:
            continue
        for model in config.get_models():
            if model._meta.managed and not model._meta.proxy and not model._meta.swapped:
                yield model


def decided_fields(model):
    """The fields of model that need a decision: concrete fields (but an auto primary key) and M2M."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    fields += [f for f in meta.local_many_to_many if f.remote_field.through._meta.auto_created]
    return fields


def undecided(spec=None):
    """['app_label.Model.field'] of own model fields without a rule."""
    spec = masking_spec() if spec is None else spec
    missing = []
    for model in own_models():
        rules = spec.get(model._meta.label) if isinstance(spec, dict) else None
        if isinstance(rules, str):  # a model-level rule decides every field
            continue
        rules = rules if isinstance(rules, dict) else {}
        missing += [f"{model._meta.label}.{f.name}" for f in decided_fields(model) if f.name not in rules]
    return missing


PERSONAL = [
    (re.compile(r"e_?mail"), "email"),
    (re.compile(r"^(first|given|fore)_?name"), "first_name"),
    (re.compile(r"^(last|family|sur)_?name"), "last_name"),
    (re.compile(r"(full_?name|^name$|display_?name|contact)"), "full_name"),
    (re.compile(r"(phone|mobile|fax|tel)"), "phone"),
    (re.compile(r"(^ip$|ip_?addr|_ip$|^ip_)"), "ip"),
    (re.compile(r"(birth|dob)"), "shift_date"),
    (re.compile(r"(password|passwd)"), "unusable_password"),
    (re.compile(r"(token|secret|api_?key|iban|account_?number|card|ssn|passport|tax_?id|vat)"), "hash"),
    (re.compile(r"(address|street|city|postcode|zip|postal|note|comment|bio|description|message)"), "text"),
]


def suggest_rule(field):
    """A starter rule for a field whose name or type looks personal, else None."""
    name = field.name.lower()
    if isinstance(field, models.EmailField):
        return "email"
    if isinstance(field, models.GenericIPAddressField):
        return "ip"
    for pattern, rule in PERSONAL:
        if pattern.search(name):
            if rule == "shift_date" and not isinstance(field, models.DateField):
                continue
            return rule
    return None


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
