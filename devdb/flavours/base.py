"""What every database flavour must implement: the SQL that differs between engines, and how to
talk to a clone.

A flavour is a small stateless class, one per database engine, chosen by Django's connection
vendor, a URL scheme or the source cluster's Engine (see devdb.flavours). Two halves:

- Masking SQL: text only; the connections are Django's own (django.db.backends.mysql / postgresql).
  Expressions are strings of SQL. Parameters are passed as named placeholders (``%(name)s``) so
  that key material never appears in the SQL text; a literal ``%`` must therefore be written ``%%``.
- A clone's readiness probe and post-clone scripts, before the clone is in any DATABASES: a driver
  connection (the one place a flavour imports its driver, only when a clone is probed), SELECT 1,
  a script run statement by statement, and every failure classified in one line without the password.
"""

import sqlparse
from sqlparse.tokens import Comment, Punctuation

from ..errors import LoginRefused, ProbeError

# The first words of every reason a clone could not be talked to. AUTHENTICATION is a LoginRefused,
# which the engine retries until its deadline: a new master password takes a while to apply.
AUTHENTICATION = "authentication failed"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
ERROR = "error"


class Flavour:
    vendor = ""  # django connection.vendor
    schemes = ()  # URL schemes, first one canonical
    django_engine = ""
    default_port = 0
    label = ""  # the Aurora engine, for people: "Aurora MySQL"

    # --- Methods that child classes must implement ------------------------------------------------
    # Masking SQL:

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

    # Migration rehearsal:

    def table_size_sql(self):
        """SQL: one row (estimated rows or NULL, bytes on disk or NULL) of the table named by the
        parameter %(table)s in the connection's database, read from the catalog without a scan;
        no row when there is no such table."""
        raise NotImplementedError

    # Talking to a clone:

    def open(self, host, *, port, user, password, database, timeout):
        """A driver connection to `host` in a transaction (not autocommit), or the driver's error;
        `timeout` bounds the connection attempt. The driver is imported here, not at module level."""
        raise NotImplementedError

    def classify(self, exc):
        """(kind, code, detail) of a driver error: kind is AUTHENTICATION, UNREACHABLE, TIMEOUT or ERROR
        (or a phrase starting with one, e.g. "unreachable (unknown host)"), code the server's error code
        or None, detail the driver's message."""
        raise NotImplementedError

    # --- Shared: talking to a clone --------------------------------------------------------------

    def connect(self, host, *, port, user, password, database, timeout):
        """open(), with a failure turned into a ProbeError (LoginRefused when the login was refused)."""
        try:
            return self.open(host, port=port, user=user, password=password, database=database, timeout=timeout)
        except ProbeError:
            raise
        except Exception as exc:
            kind = self.classify(exc)[0]
            raise (LoginRefused if kind == AUTHENTICATION else ProbeError)(self.describe(exc, password)) from None

    def describe(self, exc, password=""):
        """One line safe to show: kind, code, the driver's message with the password masked."""
        kind, code, detail = self.classify(exc)
        detail = " ".join(str(detail).split())
        if password:
            detail = detail.replace(password, "***")
        return f"{kind} ({code}): {detail}" if code else f"{kind}: {detail}"

    def probe(self, conn, password=""):
        """SELECT 1 on an open connection, which it closes; ProbeError with the reason if it fails."""
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        except Exception as exc:
            raise ProbeError(self.describe(exc, password)) from None
        finally:
            conn.close()
        if tuple(row or ()) != (1,):
            raise ProbeError("SELECT 1 did not return 1")

    def run_script(self, conn, script, password=""):
        """Run a script's statements in order on an open connection, which it closes, and commit at the end.

        A failing statement rolls the script back (MySQL commits DDL implicitly: what a DDL statement
        did stays) and raises ProbeError("statement N failed: reason"), N counting from 1.
        """
        number = 1
        try:
            cursor = conn.cursor()
            for number, statement in enumerate(self.statements(script), 1):
                cursor.execute(statement)
                while cursor.nextset():  # a procedure's several results: read before the next statement
                    pass
            conn.commit()
        except Exception as exc:
            try:
                conn.rollback()
            except Exception:  # the connection is gone, and the server rolled back with it
                pass
            raise ProbeError(f"statement {number} failed: {self.describe(exc, password)}") from None
        finally:
            conn.close()

    @staticmethod
    def statements(script):
        """The script's statements as sqlparse splits them, each without its closing semicolon and the
        comments after it (mysqlclient would send those as a second, empty statement). Parts that are only
        comments are dropped, except MySQL's executable comments (`/*!40014 SET ... */`, as in dumps)."""
        def code(token):
            return not (token.is_whitespace or token.ttype in Comment) or token.value.startswith("/*!")

        found = []
        for statement in sqlparse.parse(script):
            tokens = list(statement.flatten())
            while tokens and (not code(tokens[-1]) or tokens[-1].match(Punctuation, ";")):
                tokens.pop()
            if tokens:
                found.append("".join(t.value for t in tokens).strip())
        return found

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

    def check_masking_grants(self, database, tables=None):
        """ProbeError naming the grants the master login lacks to mask the clone (PostgreSQL checks; a
        MySQL master user holds what masking needs on the app's database)."""

    def truncate(self, table):
        return f"TRUNCATE TABLE {self.quote(table)}"

    def django_settings(self, *, host, port, user, password, database, options=None):
        """A DATABASES entry for these connection parameters, on Django's own backend."""
        return {"ENGINE": self.django_engine, "HOST": host, "PORT": str(port or self.default_port),
                "USER": user, "PASSWORD": password, "NAME": database, "OPTIONS": dict(options or {})}
