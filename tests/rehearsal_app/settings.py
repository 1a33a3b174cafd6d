"""The test settings with only the apps a rehearsal needs, this one included (for manage.py subprocesses).
DATABASE_URL, when set, is the project's default database (a real server's, holding data)."""

import os

import environ

from tests.settings import *  # noqa: F401,F403
from tests.settings import DATABASES

INSTALLED_APPS = ["django.contrib.contenttypes", "devdb", "tests.rehearsal_app"]

if os.environ.get("DATABASE_URL"):
    DATABASES = {**DATABASES, "default": environ.Env.db_url_config(os.environ["DATABASE_URL"])}
