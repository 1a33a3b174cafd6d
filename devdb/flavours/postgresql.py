"""PostgreSQL (and Aurora PostgreSQL)."""

from .base import Flavour


class PostgreSQL(Flavour):
    vendor = "postgresql"
    schemes = ("postgres", "postgresql", "pgsql", "psql", "postgis")
    django_engine = "django.db.backends.postgresql"
    default_port = 5432

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
