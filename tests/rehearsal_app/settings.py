"""The test settings with only the apps a rehearsal needs, this one included (for manage.py subprocesses)."""

from tests.settings import *  # noqa: F401,F403

INSTALLED_APPS = ["django.contrib.contenttypes", "devdb", "tests.rehearsal_app"]
