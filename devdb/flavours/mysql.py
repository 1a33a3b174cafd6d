"""MySQL, MariaDB and Aurora MySQL."""

from .base import Flavour


class MySQL(Flavour):
    vendor = "mysql"
    schemes = ("mysql", "mysql2", "mariadb", "mysqlgis")
    django_engine = "django.db.backends.mysql"
    default_port = 3306

    def quote(self, name):
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

    def django_settings(self, **params):
        config = super().django_settings(**params)
        config["OPTIONS"].setdefault("charset", "utf8mb4")
        return config
