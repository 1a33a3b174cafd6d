"""PostgreSQL (and Aurora PostgreSQL)."""

import re

from ..errors import ProbeError
from .base import AUTHENTICATION, ERROR, PROGRESS_TABLE, TIMEOUT, UNREACHABLE, Flavour

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
        if getattr(name, "schema", None):  # a TableName in another schema / database
            return f"{self.quote(name.schema)}.{self.quote(name.name)}"
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

    def introspect(self, connection, only=()):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema(), current_setting('search_path')")
            own, path = cursor.fetchone()
            cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') "
                           "AND nspname NOT LIKE 'pg\\_toast%%' AND nspname NOT LIKE 'pg\\_temp%%' "
                           "AND has_schema_privilege(nspname, 'USAGE')")
            schemas = [name for (name,) in cursor.fetchall() if not only or name in only or name == own]
            try:
                return self._introspect(connection, cursor, own, schemas,
                                        lambda name: cursor.execute(f"SET search_path TO {self.quote(name)}"))
            finally:
                cursor.execute("SELECT set_config('search_path', %s, false)", [path])

    def _column_types(self, cursor, schema, table):
        cursor.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                       "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
                       [f"{self.quote(schema)}.{self.quote(table)}"])
        return dict(cursor.fetchall())

    TEXT_TYPES = {"character varying": "{column}", "character": "{column}", "text": "{column}",
                  "json": "({column})::text", "jsonb": "({column})::text", "inet": "host({column})",
                  "cidr": "({column})::text"}

    def columns_sql(self):
        return ("SELECT current_schema(), NULL, NULL, NULL UNION ALL "
                "SELECT c.table_schema, c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE t.table_type = 'BASE TABLE' AND c.table_schema <> 'information_schema' "
                "AND c.table_schema NOT LIKE 'pg\\_%%'")

    def foreign_keys_sql(self):
        return ("SELECT con.conname, cn.nspname, cl.relname, a.attname, rn.nspname, rc.relname, ra.attname "
                "FROM pg_constraint con "
                "JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cl.relnamespace "
                "JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
                "CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(col, ref, n) "
                "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col "
                "JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.ref "
                "WHERE con.contype = 'f' AND cn.nspname <> 'information_schema' AND cn.nspname NOT LIKE 'pg\\_%%' "
                "ORDER BY cn.nspname, cl.relname, con.conname, k.n")

    def searchable(self, data_type):
        return self.TEXT_TYPES.get(data_type.lower())

    def matches_any(self, expr, exact, substrings, params):
        terms = []
        if exact:  # = ANY over an array is hashed (PostgreSQL 14+): one probe a row
            name = f"v{len(params)}"
            params[name] = [value.lower() for value in exact]
            terms.append(f"lower({expr}) = ANY(%({name})s::text[])")
        if substrings:  # LIKE ANY: several times faster than a regular expression here
            name = f"v{len(params)}"
            params[name] = ["%" + re.sub(r"([\\%_])", r"\\\1", value.lower()) + "%" for value in substrings]
            terms.append(f"lower({expr}) LIKE ANY(%({name})s::text[])")
        return "(" + " OR ".join(terms or ["FALSE"]) + ")"

    def regex(self, expr, param):
        return f"{expr} ~ %({param})s"

    def value_text(self, sql, field, connection):
        # inet's text carries the netmask ('10.0.0.1/32'): host() is the address as MySQL stores it.
        if field is not None and connection is not None and field.db_type(connection) in ("inet", "cidr"):
            return f"host({sql})"
        return super().value_text(sql, field, connection)

    def json_value(self, doc, path):
        return f"(({doc})::jsonb #>> '{{{','.join(path)}}}')"

    def json_replace(self, doc, changes):
        out = f"({doc})::jsonb"
        for path, expr in changes:
            out = f"jsonb_set({out}, '{{{','.join(path)}}}', COALESCE(to_jsonb(({expr})::text), 'null'::jsonb), false)"
        return out

    def json_literal(self, placeholder):
        return f"CAST({placeholder} AS jsonb)"

    def json_differs(self, doc, placeholder):
        return f"({doc} IS NOT NULL AND ({doc})::jsonb <> CAST({placeholder} AS jsonb))"

    def update_joined(self, table, pk, sets, where, derived):
        # OFFSET 0 keeps the subquery apart: otherwise it is pulled up and every use recomputes the HMAC.
        assignments = ", ".join(f"{column} = {expr}" for column, expr in sets)
        return (f"UPDATE {table} SET {assignments} FROM ({derived} OFFSET 0) "
                f"AS devdb_hashes WHERE {' AND '.join([f'{table}.{pk} = devdb_hashes.devdb_pk'] + list(where))}")

    def table_size_sql(self):
        # reltuples is -1 until the table was first vacuumed or analyzed (PostgreSQL 14+): unknown.
        return ("SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint END, pg_relation_size(oid) "
                "FROM pg_class WHERE oid = to_regclass(quote_ident(%(table)s))")

    # --- masking as the master user (Aurora: rds_superuser, not a superuser) ----------------------------

    def check_masking_grants(self, database, tables, schemas=(), *, connect):
        """Before masking a clone: ProbeError naming every grant the login (the master user) lacks to mask
        it, else None. On Aurora PostgreSQL the master user is rds_superuser, not a superuser: a table
        owned by another role is masked only if that role granted it UPDATE (TRUNCATE for a truncated
        one), and the progress table needs CREATE on the schema (or the rights on it, once it exists).
        `database` is the clone's connection dict (engine, host, port, user, password, database);
        `tables` the resolved masking rules (TableRules); `schemas` as MASKING_SCHEMAS; `connect`
        probes.connect (the one place the engine connects to a clone)."""
        conn = connect(database["host"], flavour=self, port=database["port"], user=database["user"],
                              password=database["password"], database=database["database"], timeout=10)
        try:
            missing = self.missing_masking_grants(conn, tables, PROGRESS_TABLE, schemas)
        except Exception as exc:
            raise ProbeError(f"masking: the master user's grants could not be read: "
                             f"{self.describe(exc, database['password'])}") from None
        finally:
            conn.close()
        if missing:
            raise ProbeError(f"masking: master user {database['user']} lacks {', '.join(missing)} on the clone "
                             "(on Aurora it is rds_superuser, not a superuser): GRANT them to it on the source "
                             "(the table owner can), then tomorrow's clone has them")

    def missing_masking_grants(self, conn, tables, progress_table, schemas=()):
        """The privileges the connection's user lacks to mask `tables` (TableRules), keep its progress
        in `progress_table` and read every table the gate reads (`schemas`, as MASKING_SCHEMAS: the
        current one and those, or every non-system one), which verification searches, as phrases
        ("UPDATE on shop_customer(email, phone)"); [] when it has them. A table that does not exist is
        left to masking to report."""
        missing = []
        cursor = conn.cursor()

        def has(sql, *params):
            cursor.execute(sql, params)
            return bool(cursor.fetchone()[0])

        cursor.execute("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                       "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%' "
                       "AND has_schema_privilege(n.nspname, 'USAGE') AND c.relname <> %s "
                       "AND (cardinality(%s::text[]) = 0 OR n.nspname = ANY(%s::text[]) OR n.nspname = current_schema()) "
                       "AND NOT has_table_privilege(c.oid, 'SELECT') ORDER BY 1, 2",
                       (progress_table, list(schemas), list(schemas)))
        unreadable = [f"{schema}.{name}" for schema, name in cursor.fetchall()]
        if unreadable:
            more = f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
            missing.append(f"SELECT on {', '.join(unreadable[:5])}{more} (verification reads every table)")
        for table in tables:
            cursor.execute("SELECT to_regclass(%s)::oid", (self.quote(table.table),))
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
