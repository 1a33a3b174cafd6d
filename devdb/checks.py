"""`manage.py check` reports the same DEVDB problems the commands refuse to run with."""

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
