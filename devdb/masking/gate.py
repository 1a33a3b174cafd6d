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
