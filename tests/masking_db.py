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


class ProjectDatabase(ShopDatabase):
    """A project-like database: the shop, Django's contrib tables (auth with its many-to-many tables,
    admin log, sessions, content types), a third-party-style table, a history table, a raw table no
    model declares, a raw column added to shop_customer, and another schema (PostgreSQL: `archive`) /
    database (MySQL: <name>_archive), all filled with made-up personal data.

    On MySQL it is reached by its own user, granted only these two databases (params, url), so the
    gate's default (every database the login sees) is exactly them.
    """

    def __init__(self, vendor, params):
        super().__init__(vendor, params)
        self.archive = f"{self.name}_archive" if vendor == "mysql" else "archive"
        if vendor == "mysql":
            conn = _server(vendor, params)
            cursor = conn.cursor()
            cursor.execute(f"CREATE DATABASE {self.archive} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            self.user, self.password = f"ms_{uuid.uuid4().hex[:10]}", "Pw-" + uuid.uuid4().hex[:10]
            for host in ("%", "localhost", "127.0.0.1"):
                cursor.execute(f"CREATE USER '{self.user}'@'{host}' IDENTIFIED BY '{self.password}'")
                for name in (self.name, self.archive):
                    cursor.execute(f"GRANT ALL ON `{name}`.* TO '{self.user}'@'{host}'")
            conn.close()
            self.server = {**self.server, "user": self.user, "password": self.password}
            self.params = {**self.params, "user": self.user, "password": self.password}
            self.root = dict(params)
        self.raw_tables()

    def _models(self):
        from django.contrib.admin.models import LogEntry
        from django.contrib.auth.models import Group, Permission, User
        from django.contrib.contenttypes.models import ContentType

        return [ContentType, Permission, Group, User, LogEntry] + super()._models()

    def raw_tables(self):
        archive = self.archive
        for sql in (
            "ALTER TABLE shop_customer ADD COLUMN loyalty_card VARCHAR(32) NULL",  # a column no model declares
            "CREATE TABLE legacy_contacts (id INT PRIMARY KEY, contact_name VARCHAR(100), phone VARCHAR(32), note TEXT)",
            "CREATE TABLE newsletter_subscriber (id INT PRIMARY KEY, email VARCHAR(254) NOT NULL UNIQUE, "
            "full_name VARCHAR(200) NOT NULL, subscribed_at DATE NOT NULL)",  # a third-party app's table
            "CREATE TABLE shop_historicalcustomer (history_id INT PRIMARY KEY, id INT NOT NULL, email VARCHAR(254), "
            "first_name VARCHAR(100), last_name VARCHAR(100), history_date DATE NOT NULL, history_type CHAR(1))",
            *([f"CREATE SCHEMA {archive}"] if self.vendor == "postgresql" else []),
            f"CREATE TABLE {archive}.old_customers (id INT PRIMARY KEY, email VARCHAR(254), name VARCHAR(200))",
        ):
            self.query(sql)

    def seed(self, customers=300, **kwargs):
        super().seed(customers, **kwargs)
        from project.shop.seed import FIRST, LAST

        people = [(i, FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]) for i in range(1, 61)]
        q = self.query
        q("UPDATE shop_customer SET loyalty_card = " + ("CONCAT('LC-', id * 7919)" if self.vendor == "mysql"
                                                          else "'LC-' || (id * 7919)"))
        q("INSERT INTO django_content_type (id, app_label, model) VALUES (1, 'shop', 'customer'), (2, 'auth', 'user')")
        for i, first, last in people:
            email = f"{first.lower()}.{last.lower().replace(chr(39), '')}.u{i}@corp.example.com"
            q("INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email, "
              "is_staff, is_active, date_joined) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
              [i, f"pbkdf2_sha256$870000$salt{i:04d}x$h{uuid.UUID(int=i * 977).hex}=", "2026-11-01 10:00:00",
               i == 1, f"{first.lower()}{last.lower().replace(chr(39), '')}{i}", first, last, email, i < 5, True,
               "2025-01-02 03:04:05"])
            q("INSERT INTO django_admin_log (id, action_time, user_id, content_type_id, object_id, object_repr, "
              "action_flag, change_message) VALUES (%s, %s, %s, 1, %s, %s, 2, %s)",
              [i, "2026-11-02 10:00:00", 1, str(i), f"{first} {last} <{email}>",
               f'[{{"changed": {{"fields": ["Email"]}}}}] was {email}'])
            q("INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
              [f"sess{i:028d}", f"payload for {email}", "2030-01-01 00:00:00"])
            q("INSERT INTO legacy_contacts (id, contact_name, phone, note) VALUES (%s, %s, %s, %s)",
              [i, f"{first} {last}", f"+44 20 7946 {i:04d}", f"Met {first} {last} at the fair; email {email}"])
            q("INSERT INTO newsletter_subscriber (id, email, full_name, subscribed_at) VALUES (%s, %s, %s, %s)",
              [i, f"news.{email}", f"{first} {last}", "2024-05-06"])
            q("INSERT INTO shop_historicalcustomer (history_id, id, email, first_name, last_name, history_date, "
              "history_type) VALUES (%s, %s, %s, %s, %s, %s, '~')", [i, i, f"old.{email}", first, last, "2025-03-04"])
            q(f"INSERT INTO {self.archive}.old_customers (id, email, name) VALUES (%s, %s, %s)",
              [i, f"archived.{email}", f"{first} {last}"])
        q("INSERT INTO auth_group (id, name) VALUES (1, 'editors')")
        q("INSERT INTO auth_user_groups (id, user_id, group_id) VALUES (1, 1, 1), (2, 2, 1)")

    PERSONAL = {  # table -> the columns holding personal data (the originals a dump must not show)
        "shop_customer": ("email", "first_name", "last_name", "phone", "notes", "last_login_ip", "loyalty_card"),
        "shop_address": ("street", "postcode"),
        "auth_user": ("password", "username", "first_name", "last_name", "email"),
        "django_admin_log": ("object_repr", "change_message"),
        "django_session": ("session_data",),
        "legacy_contacts": ("contact_name", "phone", "note"),
        "newsletter_subscriber": ("email", "full_name"),
        "shop_historicalcustomer": ("email", "first_name", "last_name"),
        "@archive.old_customers": ("email", "name"),
    }

    def personal_values(self):
        """Every original personal value (as text) of the PERSONAL columns."""
        found = set()
        for table, columns in self.PERSONAL.items():
            table = table.replace("@archive", self.archive)
            for row in self.query(f"SELECT {', '.join(columns)} FROM {table}"):
                found.update(str(v) for v in row if v not in (None, ""))
        return found

    def dump(self):
        """The whole database as the engine's dump tool writes it (both databases on MySQL)."""
        import subprocess

        if self.vendor == "mysql":
            command = ["mysqldump", f"--host={self.server['host']}", f"--port={self.server['port']}",
                       f"--user={self.root['user']}", "--skip-extended-insert", "--skip-dump-date", "--databases", self.name, self.archive]
            env = {**os.environ, "MYSQL_PWD": self.root["password"] or ""}
        else:
            command = ["pg_dump", f"--host={self.server['host']}", f"--port={self.server['port']}",
                       f"--username={self.server['user']}", "--inserts", self.name]
            env = {**os.environ, "PGPASSWORD": self.server["password"] or ""}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        # pg_dump brackets its output with a random \restrict key: not the database's content.
        return "\n".join(line for line in result.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))

    def drop(self):
        if self.vendor == "mysql":
            conn = _server(self.vendor, self.root)
            for host in ("%", "localhost", "127.0.0.1"):
                conn.cursor().execute(f"DROP USER IF EXISTS '{self.user}'@'{host}'")
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {self.archive}")
            conn.close()
            self.server = self.root
        super().drop()
