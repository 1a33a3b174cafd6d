"""MySQL, MariaDB and Aurora MySQL."""

from ..errors import ProbeError
from .base import AUTHENTICATION, ERROR, TIMEOUT, UNREACHABLE, Flavour

# MySQL client and server error codes a probe meets.
CODES = {
    1044: AUTHENTICATION,  # access denied to the database
    1045: AUTHENTICATION,  # access denied for the user (wrong password)
    1049: "unknown database",
    2002: UNREACHABLE,
    2003: UNREACHABLE,
    2005: f"{UNREACHABLE} (unknown host)",
    2013: TIMEOUT,  # lost connection while waiting for the server
}


class MySQL(Flavour):
    vendor = "mysql"
    schemes = ("mysql", "mysql2", "mariadb", "mysqlgis")
    django_engine = "django.db.backends.mysql"
    default_port = 3306
    label = "Aurora MySQL"

    def open(self, host, *, port, user, password, database, timeout):
        try:
            import MySQLdb
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ProbeError("the sql probe needs mysqlclient: pip install 'django-devdb[mysql]'") from exc
        kwargs = dict(host=host, port=port, user=user, passwd=password, connect_timeout=timeout,
                      read_timeout=max(timeout, 60), write_timeout=max(timeout, 60))
        if database:
            kwargs["db"] = database
        return MySQLdb.connect(**kwargs)

    def classify(self, exc):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        detail = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return CODES.get(code, ERROR), code, detail

    def quote(self, name):
        if getattr(name, "schema", None):  # a TableName in another schema / database
            return f"{self.quote(name.schema)}.{self.quote(name.name)}"
        return "`" + name.replace("`", "``") + "`"

    def hmac_sha256(self, value, ipad, opad):
        # Hash the value's UTF-8 bytes: as binary, or MariaDB converts the pad into the value's charset.
        data = f"CAST(CONVERT({value} USING utf8mb4) AS BINARY)"
        inner = f"UNHEX(SHA2(CONCAT(UNHEX(%({ipad})s), {data}), 256))"
        return f"SHA2(CONCAT(UNHEX(%({opad})s), {inner}), 256)"

    def hex_to_int(self, hex_expr, digits=8):
        return f"CAST(CONV(SUBSTR({hex_expr}, 1, {int(digits)}), 16, 10) AS SIGNED)"  # signed: it takes part in subtractions

    def concat(self, *parts):
        return f"CONCAT({', '.join(parts)})"

    def pick(self, index, choices):
        listed = ", ".join(f"'{c}'" for c in choices)
        return f"ELT(1 + MOD({index}, {len(choices)}), {listed})"

    def add_days(self, value, days):
        return f"DATE_ADD({value}, INTERVAL ({days}) DAY)"

    def fit(self, expr, field, connection):
        return expr  # MySQL converts on assignment (strict mode still rejects what does not fit)

    SYSTEM = ("mysql", "information_schema", "performance_schema", "sys")

    def introspect(self, connection, only=()):
        with connection.cursor() as cursor:
            cursor.execute("SELECT DATABASE()")
            own = cursor.fetchone()[0]
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            schemas = [name for (name,) in cursor.fetchall() if name.lower() not in self.SYSTEM
                       and (not only or name in only or name == own)]
            try:
                return self._introspect(connection, cursor, own, schemas,
                                        lambda name: cursor.execute(f"USE {self.quote(name)}"))
            finally:
                cursor.execute(f"USE {self.quote(own)}")

    TEXT_TYPES = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json")

    def columns_sql(self):
        return ("SELECT DATABASE(), NULL, NULL, NULL UNION ALL "
                "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE FROM information_schema.COLUMNS c "
                "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "
                "WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_SCHEMA NOT IN "
                "('mysql', 'information_schema', 'performance_schema', 'sys')")

    def foreign_keys_sql(self):
        return ("SELECT CONSTRAINT_NAME, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, "
                "REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                "WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') "
                "AND REFERENCED_TABLE_NAME IS NOT NULL "
                "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION")

    def searchable(self, data_type):
        return "{column}" if data_type.lower() in self.TEXT_TYPES else None

    def matches_any(self, expr, exact, substrings, params):
        terms = []
        if exact:  # the column's collation decides case (the usual *_ci: insensitive)
            names = [f"v{len(params) + i}" for i in range(len(exact))]
            params.update(zip(names, exact))
            terms.append(f"{expr} IN ({', '.join(f'%({n})s' for n in names)})")
        for i in range(0, len(substrings), 40):  # one alternation (PCRE/ICU) per 40 values: far faster than LIKEs
            name = f"v{len(params)}"
            params[name] = "(?i)" + "|".join(map(_regex_literal, substrings[i:i + 40]))
            terms.append(f"{expr} REGEXP %({name})s")
        return "(" + " OR ".join(terms or ["1 = 0"]) + ")"

    def regex(self, expr, param):
        return f"{expr} REGEXP %({param})s"

    def json_value(self, doc, path):
        # JSON_VALUE: the scalar unquoted, NULL for JSON null; an object or array as its JSON text.
        where = self._path(path)
        return (f"COALESCE(JSON_VALUE({doc}, {where}), CASE WHEN JSON_TYPE(JSON_EXTRACT({doc}, {where})) "
                f"IN ('OBJECT', 'ARRAY') THEN JSON_EXTRACT({doc}, {where}) END)")

    def json_replace(self, doc, changes):
        pairs = ", ".join(f"{self._path(path)}, {expr}" for path, expr in changes)
        return f"JSON_REPLACE({doc}, {pairs})"

    def json_literal(self, placeholder):
        return placeholder

    def json_differs(self, doc, placeholder):
        # MySQL compares JSON values; MariaDB (JSON is text) the text, which is what masking wrote.
        return f"({doc} IS NOT NULL AND JSON_EXTRACT({doc}, '$') <> JSON_EXTRACT({placeholder}, '$'))"

    @staticmethod
    def _path(path):
        return "'$." + ".".join(path) + "'"  # keys are letters, digits and _ (Json checks)

    def update_joined(self, table, pk, sets, where, derived):
        # A derived table with LIMIT is materialized (never merged into the UPDATE), so each HMAC is
        # computed once per row; MySQL allows it on the table being updated.
        condition = " WHERE " + " AND ".join(where) if where else ""
        assignments = ", ".join(f"{table}.{column} = {expr}" for column, expr in sets)
        return (f"UPDATE {table} JOIN ({derived} LIMIT 18446744073709551615) "
                f"AS devdb_hashes ON {table}.{pk} = devdb_hashes.devdb_pk SET {assignments}{condition}")

    def table_size_sql(self):
        return ("SELECT TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %(table)s")

    def django_settings(self, **params):
        config = super().django_settings(**params)
        config["OPTIONS"].setdefault("charset", "utf8mb4")
        return config


def _regex_literal(value):
    """value as a literal in a regular expression (a backslash before ASCII punctuation is literal)."""
    return "".join("\\" + ch if ch.isascii() and not ch.isalnum() else ch for ch in value)
