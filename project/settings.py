"""Example project wired for a dev deployment, configured entirely from the environment.

DATABASE_URL        the app's database; in a dev deployment the stable Route53 name, e.g.
                    mysql://app:secret@db.dev.example.com:3306/app (default: SQLite file)
DEVDB_DATABASE_URL  the control database holding the clone history (default: SQLite file).
                    Never the dev database: that one is replaced by a fresh clone every day.
DEVDB_*             one target (see README, "Configuration").
An optional .env file beside manage.py is read first.
"""

import sys
from pathlib import Path

import environ

from devdb.conf import database_url
from devdb.errors import ConfigError

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-devdb-example-not-secret")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
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

_target = {
    "SOURCE_CLUSTER": env.str("DEVDB_SOURCE_CLUSTER", default=""),
    "HOSTED_ZONE_ID": env.str("DEVDB_HOSTED_ZONE_ID", default=""),
    "RECORD_NAME": env.str("DEVDB_RECORD_NAME", default=""),
    "INSTANCE_CLASS": env.str("DEVDB_INSTANCE_CLASS", default=""),
}
# Optional settings are passed only when set, as strings: devdb.conf validates them and names the
# setting in its error, instead of a traceback from the settings module.
for _key in (
    "CLONE_PREFIX", "RECORD_TTL", "CLEAN_GRACE", "READY_TIMEOUT", "READINESS_PROBE", "KEEP_ABORTED",
    "DB_SUBNET_GROUP", "VPC_SECURITY_GROUP_IDS", "POST_CLONE_SQL", "MASTER_PASSWORD_ENV",
    "SERVERLESS_MIN_ACU", "SERVERLESS_MAX_ACU",
):
    if env.str(f"DEVDB_{_key}", default=""):
        _target[_key] = env.str(f"DEVDB_{_key}")
if env.str("DEVDB_PUBLICLY_ACCESSIBLE", default=""):
    _target["PUBLICLY_ACCESSIBLE"] = env.bool("DEVDB_PUBLICLY_ACCESSIBLE")
DEVDB = {
    "DATABASE": "devdb",
    "TARGETS": {env.str("DEVDB_TARGET", default="dev"): _target},
}
# Masking: a decision for every field of the project's own models (mask_devdb --check enforces it).
DEVDB["MASKING"] = {
    "shop.Customer": {
        "email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone",
        "birth_date": "shift_date", "notes": "text", "last_login_ip": "ip",
    },
    "shop.Address": {"customer": "keep", "street": "text", "city": "text", "postcode": "hash"},
    "shop.Order": {"customer": "keep", "total": "keep", "placed_at": "keep"},
    "sessions.Session": "truncate",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s", "datefmt": "%Y-%m-%dT%H:%M:%S%z"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"devdb": {"handlers": ["stderr"], "level": env.str("DEVDB_LOG_LEVEL", default="INFO"), "propagate": False}},
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
