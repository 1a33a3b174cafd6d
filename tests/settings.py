"""Test settings. DEVDB_TEST_CONTROL_DB=mysql puts the control database on the MariaDB server,
DEVDB_TEST_CONTROL_DB=postgresql on the PostgreSQL one."""

import os

import environ

SECRET_KEY = "tests"
USE_TZ = True
TIME_ZONE = "UTC"
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
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "project.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CONTROL_DB = os.environ.get("DEVDB_TEST_CONTROL_DB", "sqlite")
MYSQL_URL = os.environ.get("DEVDB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/devdb_control")
POSTGRES_URL = os.environ.get("DEVDB_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# SQLite test databases are in memory; the MariaDB one is named per run so parallel runs don't clash.
SUFFIX = os.environ.get("DEVDB_TEST_DB_SUFFIX", "")
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "app.sqlite3"},
    "devdb": (
        {**environ.Env.db_url_config(MYSQL_URL), "TEST": {"NAME": f"test_devdb_control{SUFFIX}", "CHARSET": "utf8mb4"}}
        if CONTROL_DB == "mysql"
        else {**environ.Env.db_url_config(POSTGRES_URL), "TEST": {"NAME": f"test_devdb_control{SUFFIX}"}}
        if CONTROL_DB == "postgresql"
        else {"ENGINE": "django.db.backends.sqlite3", "NAME": "devdb.sqlite3"}
    ),
}
DATABASE_ROUTERS = ["devdb.routers.DevdbRouter"]

# Replaced per test by the fixtures in conftest.py (the hosted zone id is made by moto).
DEVDB = {
    "DATABASE": "devdb",
    "TARGETS": {
        "dev": {
            "SOURCE_CLUSTER": "prod-aurora",
            "HOSTED_ZONE_ID": "Z0123456789ABC",
            "RECORD_NAME": "db.dev.example.com",
            "INSTANCE_CLASS": "db.t4g.medium",
        },
    },
    "POLL_INITIAL": 0.01,
    "POLL_MAX": 0.05,
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
