"""`manage.py check` reports the same DEVDB problems the commands refuse to run with."""

import difflib

from django.core import checks

from . import conf


@checks.register("devdb")
def check_settings(app_configs=None, **kwargs):
    return [
        checks.Error(f"{problem.where} {problem.message}", hint=problem.hint or None, id=problem.id)
        for problem in conf.problems()
    ]


@checks.register("devdb")
def check_router(app_configs=None, **kwargs):
    from django.conf import settings

    routers = getattr(settings, "DATABASE_ROUTERS", [])
    if not any(r == "devdb.routers.DevdbRouter" or getattr(r, "__class__", None).__name__ == "DevdbRouter" for r in routers):
        return [checks.Error(
            "devdb.routers.DevdbRouter is not in DATABASE_ROUTERS",
            hint="Add it so the clone history lives in the control database, not in the dev database.",
            id="devdb.E015",
        )]
    return []


@checks.register("devdb")
def check_environment(app_configs=None, **kwargs):
    """A DEVDB_* variable that no setting reads is most likely a typo: DEVDB_RECORD_TTTL changes nothing."""
    from django.conf import settings

    warnings = []
    for variable in getattr(getattr(settings, "DEVDB", None), "unknown", ()):
        close = difflib.get_close_matches(variable, conf.environment_variables(), n=1)
        warnings.append(checks.Warning(
            f"{variable} is set, but no setting reads it",
            hint=f"Did you mean {close[0]}?" if close else "See the README, \"Configuration\", for the variables read.",
            id="devdb.W001",
        ))
    return warnings


@checks.register("devdb")
def check_masking(app_configs=None, **kwargs):
    """Rules must name real models, fields and rules; while masking is on, every field of every model
    in the app's database and every table and column of that database (when it is MySQL or PostgreSQL
    and can be read) needs a decision: errors, the gate fails closed."""
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS

    from .connections import one_line
    from .flavours import FLAVOURS
    from .masking import gate
    from .masking.rules import masking_spec, problems

    if any(problem.id == "devdb.E016" for problem in conf.problems()):
        return []  # a malformed MASKING is reported once, by check_settings
    spec = masking_spec()
    found = [checks.Error(message, id=code) for code, message in problems(spec)]
    if found or not gate.masking_on():
        return found
    hint = "Add a rule or 'keep' to DEVDB['MASKING'] (python manage.py mask_devdb --check lists them)."
    found += [checks.Error(f"{name} has no masking rule", hint=hint, id="devdb.E033") for name in gate.undecided(spec)]
    default = settings.DATABASES.get(DEFAULT_DB_ALIAS, {})
    if str(default.get("ENGINE", "")).rsplit(".", 1)[-1] not in FLAVOURS:
        return found  # SQLite and the like: never masked, nothing to read
    databases = kwargs.get("databases")
    if databases is not None and DEFAULT_DB_ALIAS not in databases:
        return found  # e.g. `migrate --database devdb`: the app's database is not what the command touches
    try:
        missing = gate.check_database(dict(default), spec)  # its own short-lived connection, as settings say now
    except Exception as exc:  # unreachable, no rights: say the database was not checked
        reason = one_line(exc, [default.get("PASSWORD") or ""])
        return found + [checks.Warning(
            f"the database of {DEFAULT_DB_ALIAS!r} could not be read, so its tables and columns were not checked "
            f"against DEVDB['MASKING']: {reason}",
            hint="Run python manage.py mask_devdb --check --url ... against a copy of it.", id="devdb.W031")]
    found += [checks.Error(f"{name} (in the database of {DEFAULT_DB_ALIAS!r}) has no masking decision", hint=hint,
                           id="devdb.E034") for name in missing]
    return found
