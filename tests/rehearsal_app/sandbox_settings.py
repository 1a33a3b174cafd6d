"""The example project (configured from DEVDB_* against the moto server) with only the apps a rehearsal
needs, for `manage.py rehearse_devdb` on a branch (or refresh_devdb) in a subprocess.

moto's clone endpoints (*.rds.amazonaws.com) resolve nowhere: with TEST_CLONE_ADDRESS=HOST:PORT
the MySQL and PostgreSQL drivers are sent there instead, as DNS would send them to the clone, and with
TEST_CLONE_DATABASE=NAME to that database (so the clone is another database than the app's default on
the same server). Everything above the driver (the branch, its endpoint and port, the app's login,
Django's migrate) is the real code's.
"""

import os

import MySQLdb
import psycopg

from project.settings import *  # noqa: F401,F403

INSTALLED_APPS = ["django.contrib.contenttypes", "devdb", "tests.rehearsal_app"]

if address := os.environ.get("TEST_CLONE_ADDRESS"):
    _host, _port = address.rsplit(":", 1)
    _database = os.environ.get("TEST_CLONE_DATABASE")
    _mysql_connect, _pg_connect = MySQLdb.connect, psycopg.connect

    def _to_clone_server(*args, **kwargs):
        if str(kwargs.get("host", "")).endswith(".rds.amazonaws.com"):
            kwargs.update(host=_host, port=int(_port))
            if _database:
                kwargs["database" if "database" in kwargs or "db" not in kwargs else "db"] = _database
        return _mysql_connect(*args, **kwargs)

    def _pg_to_clone_server(*args, **kwargs):
        if str(kwargs.get("host", "")).endswith(".rds.amazonaws.com"):
            kwargs.update(host=_host, port=int(_port))
            if _database:
                kwargs["dbname"] = _database
        return _pg_connect(*args, **kwargs)

    MySQLdb.connect = _to_clone_server
    psycopg.connect = _pg_to_clone_server
