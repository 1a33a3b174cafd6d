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

    def table_size_sql(self):
        return ("SELECT TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %(table)s")

    def django_settings(self, **params):
        config = super().django_settings(**params)
        config["OPTIONS"].setdefault("charset", "utf8mb4")
        return config
