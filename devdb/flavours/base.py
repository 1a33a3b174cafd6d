"""What every database flavour must implement: the SQL that differs between engines.

A flavour is a small stateless class, one per database engine, chosen by Django's connection
vendor or a URL scheme (see devdb.flavours.FLAVOURS). It only writes SQL text; connections are
Django's own (django.db.backends.mysql / postgresql), so no flavour imports a driver for masking.

Expressions are strings of SQL. Parameters are passed as named placeholders (``%(name)s``) so that
key material never appears in the SQL text; a literal ``%`` must therefore be written ``%%``.
"""


class Flavour:
    vendor = ""  # django connection.vendor
    schemes = ()  # URL schemes, first one canonical
    django_engine = ""
    default_port = 0

    # --- Methods that child classes must implement ------------------------------------------------

    def quote(self, name):
        """An identifier (table or column name), quoted."""
        raise NotImplementedError

    def hmac_sha256(self, value, ipad, opad):
        """SQL: lower-case hex HMAC-SHA256 of `value` (an expression, as UTF-8 text) under the key
        whose inner and outer pads are the parameters named `ipad` and `opad` (hex strings)."""
        raise NotImplementedError

    def hex_to_int(self, hex_expr, digits=8):
        """SQL: the first `digits` (<= 15) hex digits of `hex_expr` as a non-negative integer."""
        raise NotImplementedError

    def concat(self, *parts):
        """SQL: the parts as one string; NULL if any part is NULL (masking keeps NULLs NULL)."""
        raise NotImplementedError

    def pick(self, index, choices):
        """SQL: choices[index mod len(choices)] for an integer expression `index` (choices are
        plain strings without quotes; they are written into the SQL)."""
        raise NotImplementedError

    def add_days(self, value, days):
        """SQL: date or datetime `value` moved by the integer expression `days`."""
        raise NotImplementedError

    def fit(self, expr, field, connection):
        """SQL: `expr` made storable in `field`'s column (cast or left as is)."""
        raise NotImplementedError

    # --- Shared SQL ------------------------------------------------------------------------------

    def left(self, expr, length):
        return f"LEFT({expr}, {int(length)})"

    def lpad(self, expr, length, fill="0"):
        return f"LPAD({self.text(expr)}, {int(length)}, '{fill}')"

    def text(self, expr):
        """SQL: expr as a character string."""
        return f"CAST({expr} AS CHAR)"

    def create_progress_table(self, table):
        """DDL of the table where masking notes what it already did (see devdb.masking.apply)."""
        return (f"CREATE TABLE IF NOT EXISTS {self.quote(table)} ("
                f"{self.quote('table_name')} VARCHAR(255) NOT NULL PRIMARY KEY, "
                f"{self.quote('fingerprint')} VARCHAR(64) NOT NULL, "
                f"{self.quote('last_pk')} VARCHAR(255) NULL, "
                f"{self.quote('done')} SMALLINT NOT NULL, "
                f"{self.quote('rows_masked')} BIGINT NOT NULL, "
                f"{self.quote('seconds')} DOUBLE PRECISION NOT NULL, "
                f"{self.quote('sample')} TEXT NOT NULL)")

    def truncate(self, table):
        return f"TRUNCATE TABLE {self.quote(table)}"

    def django_settings(self, *, host, port, user, password, database, options=None):
        """A DATABASES entry for these connection parameters, on Django's own backend."""
        return {"ENGINE": self.django_engine, "HOST": host, "PORT": str(port or self.default_port),
                "USER": user, "PASSWORD": password, "NAME": database, "OPTIONS": dict(options or {})}
