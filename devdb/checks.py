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
    """Rules must name real models, fields and rules (errors); while masking is on, every project
    model field needs a decision (warning: mask_devdb --check makes it fatal in CI)."""
    from .masking import gate
    from .masking.rules import masking_spec, problems

    if any(problem.id == "devdb.E016" for problem in conf.problems()):
        return []  # a malformed MASKING is reported once, by check_settings
    spec = masking_spec()
    found = [checks.Error(message, id=code) for code, message in problems(spec)]
    if not found and gate.masking_on():
        found += [checks.Warning(f"{name} has no masking rule", hint="Add a rule or 'keep' to DEVDB['MASKING'].",
                                 id="devdb.W030") for name in gate.undecided(spec)]
    return found
