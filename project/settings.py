"""Example project wired for a dev deployment, configured entirely from the environment.

DATABASE_URL        the app's database; in a dev deployment the stable Route53 name, e.g.
                    mysql://app:secret@db.dev.example.com:3306/app (default: SQLite file)
DEVDB_DATABASE_URL  the control database holding the clone history (default: SQLite file).
                    Never the dev database: that one is replaced by a fresh clone every day.
DEVDB_TARGET        the name of the one target configured from the DEVDB_* variables (default: dev).
DEVDB_LOG_LEVEL     DEBUG, INFO (default), WARNING or ERROR: what the commands log on stderr.
DEVDB_*             every setting devdb.conf declares with a variable (README, "Configuration"),
                    e.g. DEVDB_POLL_INITIAL / DEVDB_POLL_MAX to poll faster against a simulation.
An optional .env file beside manage.py is read first.
"""

import os
import sys
from pathlib import Path

import environ

from devdb.conf import database_url, from_environment
from devdb.masking import presets
from devdb.validators import boolean
from devdb.errors import ConfigError

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-devdb-example-not-secret")
try:
    DEBUG = boolean(env.str("DJANGO_DEBUG", default="false"))
except ValueError as exc:  # "maybe" is not False
    sys.exit(f"error: DJANGO_DEBUG {exc}")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "devdb",
    "project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS and JS) as a deployment serves them, with DEBUG on or off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "project.wsgi.application"

try:
    DATABASES = {
        "default": database_url(env, "DATABASE_URL", f"sqlite:///{BASE_DIR / 'app.sqlite3'}"),
        "devdb": database_url(env, "DEVDB_DATABASE_URL", f"sqlite:///{BASE_DIR / 'devdb.sqlite3'}"),
    }
except ConfigError as exc:  # one line, no traceback, never the URL itself
    sys.exit(f"error: {exc}")
DATABASE_ROUTERS = ["devdb.routers.DevdbRouter"]

# Every DEVDB setting that has an environment variable (devdb.conf's declarations, also in the
# README): passed as the strings they are, so devdb.conf validates them and its errors name the
# variable the user set, instead of a traceback from the settings module.
DEVDB = from_environment(os.environ, also=("DEVDB_DATABASE_URL", "DEVDB_LOG_LEVEL", "DEVDB_SANDBOX_NOW"))
# Masking: a decision for every table and column of the app's database (mask_devdb --check enforces
# it): Django's own apps from the preset, the shop's here.
DEVDB["MASKING"] = {
    **presets.DJANGO,
    "shop.Customer": {
        "email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone",
        "birth_date": "shift_date", "notes": "text", "last_login_ip": "ip",
    },
    "shop.Address": {"customer": "keep", "street": "text", "city": "text", "postcode": "hash"},
    "shop.Order": {"customer": "keep", "total": "keep", "placed_at": "keep"},
}

# DEVDB_LOG_LEVEL: how much the commands log on stderr (a command's -v 0 / -v 2 overrides it).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_LEVEL = env.str("DEVDB_LOG_LEVEL", default="INFO").strip().upper() or "INFO"
if LOG_LEVEL not in LOG_LEVELS:  # one line, not logging.config's traceback
    sys.exit(f"error: DEVDB_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {LOG_LEVEL.lower()!r})")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s", "datefmt": "%Y-%m-%dT%H:%M:%S%z"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"devdb": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False}},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# WhiteNoise serves what `manage.py collectstatic` copies here and, before that (a fresh checkout),
# finds the files in the installed apps: `runserver` with DEBUG off (the default) or gunicorn serve a
# styled admin either way.
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
