"""The example project (configured from DEVDB_* against the moto server) with only the apps a rehearsal
needs, for `manage.py rehearse_devdb` on a branch in a subprocess.

moto's clone endpoints (*.rds.amazonaws.com) resolve nowhere: with TEST_CLONE_ADDRESS=HOST:PORT
the MySQL driver is sent there instead, as DNS would send it to the clone. Everything above the driver
(the branch, its endpoint and port, the app's login, Django's migrate) is the real code's.
"""

import os

import MySQLdb

from project.settings import *  # noqa: F401,F403

INSTALLED_APPS = ["django.contrib.contenttypes", "devdb", "tests.rehearsal_app"]

if address := os.environ.get("TEST_CLONE_ADDRESS"):
    _host, _port = address.rsplit(":", 1)
    _connect = MySQLdb.connect

    def _to_clone_server(*args, **kwargs):
        if str(kwargs.get("host", "")).endswith(".rds.amazonaws.com"):
            kwargs.update(host=_host, port=int(_port))
        return _connect(*args, **kwargs)

    MySQLdb.connect = _to_clone_server
