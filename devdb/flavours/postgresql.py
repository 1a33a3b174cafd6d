"""PostgreSQL (and Aurora PostgreSQL)."""

import re

from ..errors import ProbeError
from .base import AUTHENTICATION, ERROR, TIMEOUT, UNREACHABLE, Flavour

# libpq reports a failed login without an SQLSTATE: the server's FATAL message says what happened.
REFUSED = re.compile(r'authentication failed|role ".*" does not exist|no pg_hba\.conf entry|pg_hba\.conf rejects'
                     r"|not permitted to log in")
UNKNOWN_HOST = re.compile(r"failed to resolve host|could not translate host name")
NO_SERVER = re.compile(r"Connection refused|No route to host|Network is unreachable|server closed the connection"
                       r"|could not connect")


class PostgreSQL(Flavour):
    vendor = "postgresql"
    schemes = ("postgres", "postgresql", "pgsql", "psql", "postgis")
    django_engine = "django.db.backends.postgresql"
    default_port = 5432
    label = "Aurora PostgreSQL"

    def open(self, host, *, port, user, password, database, timeout):
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ProbeError("the sql probe needs psycopg: pip install 'django-devdb[postgresql]'") from exc
        # psycopg waits at least 2 seconds for a connection, whatever connect_timeout says.
        kwargs = {"dbname": database} if database else {}  # without one, libpq takes the user's name
        return psycopg.connect(host=host, port=port, user=user, password=password, connect_timeout=timeout, **kwargs)

    def classify(self, exc):
        sqlstate = getattr(exc, "sqlstate", None)
        message = str(exc)
        if (sqlstate or "").startswith("28") or REFUSED.search(message):
            kind = AUTHENTICATION
        elif sqlstate == "3D000" or re.search(r'database ".*" does not exist', message):
            kind = "unknown database"
        elif type(exc).__name__ == "ConnectionTimeout" or "timeout expired" in message:
            kind = TIMEOUT
        elif UNKNOWN_HOST.search(message):
            kind = f"{UNREACHABLE} (unknown host)"
        elif NO_SERVER.search(message):
            kind = UNREACHABLE
        else:
            kind = ERROR
        return kind, sqlstate, message

    def quote(self, name):
        return '"' + name.replace('"', '""') + '"'

    def hmac_sha256(self, value, ipad, opad):
        inner = f"sha256(decode(%({ipad})s, 'hex') || convert_to(({value})::text, 'UTF8'))"
        return f"encode(sha256(decode(%({opad})s, 'hex') || {inner}), 'hex')"

    def hex_to_int(self, hex_expr, digits=8):
        digits = int(digits)
        return f"(('x' || lpad(substr({hex_expr}, 1, {digits}), 16, '0'))::bit(64)::bigint)"

    def concat(self, *parts):
        return "(" + " || ".join(f"({p})::text" for p in parts) + ")"

    def pick(self, index, choices):
        listed = ", ".join(f"'{c}'" for c in choices)
        return f"(ARRAY[{listed}])[1 + MOD({index}, {len(choices)})]"

    def add_days(self, value, days):
        return f"({value} + ({days}) * INTERVAL '1 day')"

    def text(self, expr):
        return f"({expr})::text"

    def fit(self, expr, field, connection):
        # PostgreSQL does not convert text into date, inet, ... on assignment: cast to the column type.
        return f"CAST({expr} AS {field.db_type(connection)})"

    def table_size_sql(self):
        # reltuples is -1 until the table was first vacuumed or analyzed (PostgreSQL 14+): unknown.
        return ("SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint END, pg_relation_size(oid) "
                "FROM pg_class WHERE oid = to_regclass(quote_ident(%(table)s))")

    # --- masking as the master user (Aurora: rds_superuser, not a superuser) ----------------------------

    def check_masking_grants(self, database, tables=None):
        """Before masking a clone: ProbeError naming every grant the login (the master user) lacks to mask
        it, else None. On Aurora PostgreSQL the master user is rds_superuser, not a superuser: a table
        owned by another role is masked only if that role granted it UPDATE (TRUNCATE for a truncated
        one), and the progress table needs CREATE on the schema (or the rights on it, once it exists).
        `database` is the clone's connection dict (engine, host, port, user, password, database);
        `tables` the resolved masking rules (default DEVDB["MASKING"])."""
        from .. import probes  # the one place the engine connects to a clone
        from ..masking import rules
        from ..masking.apply import PROGRESS_TABLE

        tables = rules.resolve(rules.masking_spec()) if tables is None else tables
        conn = probes.connect(database["host"], flavour=self, port=database["port"], user=database["user"],
                              password=database["password"], database=database["database"], timeout=10)
        try:
            missing = self.missing_masking_grants(conn, tables, PROGRESS_TABLE)
        except Exception as exc:
            raise ProbeError(f"masking: the master user's grants could not be read: "
                             f"{self.describe(exc, database['password'])}") from None
        finally:
            conn.close()
        if missing:
            raise ProbeError(f"masking: master user {database['user']} lacks {', '.join(missing)} on the clone "
                             "(on Aurora it is rds_superuser, not a superuser): GRANT them to it on the source "
                             "(the table owner can), then tomorrow's clone has them")

    def missing_masking_grants(self, conn, tables, progress_table):
        """The privileges the connection's user lacks to mask `tables` (TableRules) and keep its progress
        in `progress_table`, as phrases ("UPDATE on shop_customer(email, phone)"); [] when it has them.
        A table that does not exist is left to masking to report."""
        missing = []
        cursor = conn.cursor()

        def has(sql, *params):
            cursor.execute(sql, params)
            return bool(cursor.fetchone()[0])

        for table in tables:
            cursor.execute("SELECT to_regclass(quote_ident(%s))::oid", (table.table,))
            oid = cursor.fetchone()[0]
            if oid is None:
                continue
            if table.truncate:
                lacking = [p for p in ("SELECT", "TRUNCATE")
                           if not has("SELECT has_table_privilege(%s::oid, %s)", oid, p)]
                missing += [f"{p} on {table.table}" for p in lacking]
                continue
            columns = [column for column, _field, _rule in table.columns]
            for privilege in ("SELECT", "UPDATE"):
                lacking = [c for c in columns if not has("SELECT has_column_privilege(%s::oid, %s, %s)", oid, c, privilege)]
                if lacking:
                    missing.append(f"{privilege} on {table.table}({', '.join(lacking)})")
        cursor.execute("SELECT to_regclass(quote_ident(%s))::oid", (progress_table,))
        progress = cursor.fetchone()[0]
        if progress is None:
            if not has("SELECT coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)"):
                cursor.execute("SELECT coalesce(current_schema(), 'no schema on the search_path')")
                missing.append(f"CREATE on schema {cursor.fetchone()[0]} (for {progress_table})")
        else:
            lacking = [p for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
                       if not has("SELECT has_table_privilege(%s::oid, %s)", progress, p)]
            if lacking:
                missing.append(f"{', '.join(lacking)} on {progress_table}")
        return missing
