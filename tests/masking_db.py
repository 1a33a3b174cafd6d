"""Scratch databases on the real MariaDB and PostgreSQL servers holding the example shop's tables.

`ShopDatabase(vendor, params)` creates a database named test_masking_<suffix>_<random> (dropped by
drop()), makes the shop tables through the models (schema editor) and seeds them through the models.
"""

import os
import uuid
from contextlib import contextmanager

from devdb.masking import connection_for

SUFFIX = os.environ.get("DEVDB_TEST_DB_SUFFIX", "")


def _server(vendor, params):
    if vendor == "mysql":
        import MySQLdb

        conn = MySQLdb.connect(host=params["host"], port=params["port"], user=params["user"], passwd=params["password"])
        conn.autocommit(True)
        return conn
    import psycopg

    return psycopg.connect(host=params["host"], port=params["port"], user=params["user"], password=params["password"],
                           dbname=params["database"], autocommit=True)


class ShopDatabase:
    def __init__(self, vendor, params):
        self.vendor = vendor
        self.name = f"test_masking{SUFFIX}_{uuid.uuid4().hex[:8]}".lower()
        self.server = dict(params)
        conn = _server(vendor, params)
        charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if vendor == "mysql" else ""
        conn.cursor().execute(f"CREATE DATABASE {self.name}{charset}")
        conn.close()
        self.params = {**params, "vendor": vendor, "database": self.name}
        self.create_tables()

    @property
    def url(self):
        scheme = "mysql" if self.vendor == "mysql" else "postgres"
        auth = self.server["user"] + (f":{self.server['password']}" if self.server["password"] else "")
        return f"{scheme}://{auth}@{self.server['host']}:{self.server['port']}/{self.name}"

    @contextmanager
    def alias(self):
        with connection_for(self.params) as alias:
            yield alias

    def _models(self):
        from django.contrib.sessions.models import Session

        from project.shop.models import Address, Customer, Order

        return [Customer, Address, Order, Session]

    def create_tables(self):
        from django.db import connections

        with self.alias() as alias, connections[alias].schema_editor() as editor:
            for model in self._models():
                editor.create_model(model)

    def reset(self, customers=300, **kwargs):
        """Drop and recreate the shop tables (and the progress table), seeded again."""
        from django.db import connections

        with self.alias() as alias:
            with connections[alias].schema_editor() as editor:
                for model in reversed(self._models()):
                    editor.delete_model(model)
            connections[alias].cursor().execute("DROP TABLE IF EXISTS devdb_masking_progress")
        self.create_tables()
        self.seed(customers, **kwargs)

    def seed(self, customers=300, **kwargs):
        from project.shop.seed import seed

        with self.alias() as alias:
            seed(customers, using=alias, **kwargs)

    def query(self, sql, params=None):
        from django.db import connections

        with self.alias() as alias, connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else None

    def column(self, table, column):
        return [row[0] for row in self.query(f"SELECT {column} FROM {table} ORDER BY id")]

    def snapshot(self):
        columns = {"shop_customer": "id, email, first_name, last_name, phone, birth_date, notes, last_login_ip",
                   "shop_address": "id, street, city, postcode, customer_id"}
        return {table: self.query(f"SELECT {cols} FROM {table} ORDER BY id") for table, cols in columns.items()}

    def drop(self):
        conn = _server(self.vendor, self.server)
        force = " WITH (FORCE)" if self.vendor == "postgresql" else ""
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {self.name}{force}")
        conn.close()
