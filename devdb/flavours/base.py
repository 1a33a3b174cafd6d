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

from dataclasses import dataclass, field as dataclass_field

import sqlparse
from django.db import models
from sqlparse.tokens import Comment, Punctuation

from ..errors import LoginRefused, ProbeError

# The first words of every reason a clone could not be talked to. AUTHENTICATION is a LoginRefused,
# which the engine retries until its deadline: a new master password takes a while to apply.
AUTHENTICATION = "authentication failed"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
ERROR = "error"


PROGRESS_TABLE = "devdb_masking_progress"  # devdb's own bookkeeping (devdb.masking.apply): never masked


class TableName(str):
    """A table name; in another schema (PostgreSQL) / database (MySQL) than the connection's own, the
    text is "schema.table" and quote() qualifies it. Progress rows and messages use the text."""

    def __new__(cls, name, schema=None):
        self = super().__new__(cls, f"{schema}.{name}" if schema else name)
        self.name, self.schema = name, schema
        return self


@dataclass
class Table:
    """One base table of a masked database, as introspection found it."""

    name: TableName  # qualified when it is not in the connection's own schema / database
    schema: str
    own: bool  # in the connection's own schema / database (where model tables live)
    columns: dict = dataclass_field(default_factory=dict)  # column name -> a Django field built from the schema
    pk: object = None  # the single-column primary key's field, or None

    def label(self, column=None):
        return f"{self.name}.{column}" if column else str(self.name)


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

    # The masking gate:

    def introspect(self, connection, only=()):
        """[Table] of every base table of every schema (PostgreSQL) / database (MySQL) the Django
        `connection` can see, but system ones and devdb_masking_progress; `only`: just those (and
        always the connection's own). Read with Django's introspection, switched to each schema."""
        raise NotImplementedError

    # Masking verification (devdb.masking.outcome): the catalog, and searching text.

    def columns_sql(self):
        """SQL: (schema, table, column, data_type) of every column of every base table the masking
        connection's database holds (system schemas left out), and the current schema first as
        (current, NULL, NULL, NULL)."""
        raise NotImplementedError

    def foreign_keys_sql(self):
        """SQL: (constraint, schema, table, column, ref_schema, ref_table, ref_column), one row per
        column of every foreign key in those schemas, in key order."""
        raise NotImplementedError

    def searchable(self, data_type):
        """SQL: an expression of the column (its data_type as columns_sql gives it) as text to search
        for copied values, or None when the type holds no text."""
        raise NotImplementedError

    def matches_any(self, expr, exact, substrings, params):
        """SQL: true when text `expr` equals one of `exact` or contains one of `substrings` (both
        case-insensitive; the values go into `params`, never into the SQL text)."""
        raise NotImplementedError

    def regex(self, expr, param):
        """SQL: true when text `expr` matches the regular expression in parameter `param`."""
        raise NotImplementedError

    def json_value(self, doc, path):
        """SQL: the scalar at `path` (a list of key names) inside JSON document `doc` as text, NULL
        when missing or JSON null (strings unquoted)."""
        raise NotImplementedError

    def json_replace(self, doc, changes):
        """SQL: JSON document `doc` with each existing key at path replaced by the text expression,
        for every (path, expression) in changes; missing keys stay missing, a NULL value is JSON null."""
        raise NotImplementedError

    def json_literal(self, placeholder):
        """SQL: the JSON document given as text by `placeholder`, storable in a JSON column."""
        raise NotImplementedError

    def json_differs(self, doc, placeholder):
        """SQL: a condition true where JSON document `doc` is not NULL and differs from the one given
        as text by `placeholder` (the same JSON value written otherwise counts as equal)."""
        raise NotImplementedError

    def with_hashes(self, table, pk, sets, where, hashes):
        """SQL: UPDATE `table` SET `sets` (column = expression) WHERE `where` (conditions on `pk`),
        where the expressions may use hash_ref(alias) for each (alias, expression) of `hashes`:
        each is computed once per row in a derived table joined on `pk` (kept apart from the
        UPDATE, so that the optimizer does not inline it back into every use)."""
        computed = ", ".join([f"{pk} AS devdb_pk"] + [f"{expr} AS {alias}" for alias, expr in hashes])
        condition = " WHERE " + " AND ".join(where) if where else ""
        return self.update_joined(table, pk, sets, where, f"SELECT {computed} FROM {table}{condition}")

    def update_joined(self, table, pk, sets, where, derived):
        """SQL: with_hashes()' UPDATE, given the derived table's SELECT (devdb_pk and the hashes); each engine
        keeps it materialized its own way."""
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

    # --- Shared: introspection --------------------------------------------------------------------

    def _introspect(self, connection, cursor, own, schemas, use):
        """Tables of `schemas` (`own` first), `use(name)` switching the connection to one of them."""
        found = []
        for schema in [own] + sorted(s for s in schemas if s != own):
            use(schema)
            intro = connection.introspection
            for info in intro.get_table_list(cursor):
                if info.type != "t" or (schema == own and info.name == PROGRESS_TABLE):
                    continue
                table = Table(TableName(info.name, None if schema == own else schema), schema, schema == own)
                pks = intro.get_primary_key_columns(cursor, info.name) or []
                unique = {c["columns"][0] for c in intro.get_constraints(cursor, info.name).values()
                          if c["unique"] and len(c["columns"]) == 1}
                types = self._column_types(cursor, schema, info.name)
                for row in intro.get_table_description(cursor, info.name):
                    table.columns[row.name] = _field(connection, row, primary_key=pks == [row.name],
                                                     unique=row.name in unique, db_type=types.get(row.name))
                table.pk = table.columns.get(pks[0]) if len(pks) == 1 else None
                found.append(table)
        return found

    def _column_types(self, cursor, schema, table):
        """{column: its SQL type} where a cast needs the exact type (PostgreSQL); {} by default."""
        return {}

    # --- Shared SQL ------------------------------------------------------------------------------

    def left(self, expr, length):
        return f"LEFT({expr}, {int(length)})"

    def lpad(self, expr, length, fill="0"):
        return f"LPAD({self.text(expr)}, {int(length)}, '{fill}')"

    def text(self, expr):
        """SQL: expr as a character string."""
        return f"CAST({expr} AS CHAR)"

    def value_text(self, sql, field, connection):
        """SQL: a column's value as the text keyed rules hash, the same for the same value on every
        engine (a uuid without dashes, as MySQL stores it)."""
        if field is not None and field.get_internal_type() == "UUIDField":
            return f"REPLACE({self.text(sql)}, '-', '')"
        return sql

    def hash_ref(self, alias):
        """SQL: the per-row HMAC named `alias` inside an UPDATE built by with_hashes()."""
        return f"devdb_hashes.{alias}"

    def update(self, table, pk, sets, where, hashes=()):
        """SQL: one UPDATE of `table` (quoted names; sets = [(column, expression)], where = [condition])."""
        if hashes:
            return self.with_hashes(table, pk, sets, where, hashes)
        assignments = ", ".join(f"{column} = {expr}" for column, expr in sets)
        return f"UPDATE {table} SET {assignments}" + (" WHERE " + " AND ".join(where) if where else "")

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

    def check_masking_grants(self, database, tables, schemas=(), *, connect=None):
        """ProbeError naming the grants the master login lacks to mask the clone (PostgreSQL checks; a
        MySQL master user holds what masking needs on the app's database)."""

    def truncate(self, table):
        return f"TRUNCATE TABLE {self.quote(table)}"

    def django_settings(self, *, host, port, user, password, database, options=None):
        """A DATABASES entry for these connection parameters, on Django's own backend."""
        return {"ENGINE": self.django_engine, "HOST": host, "PORT": str(port or self.default_port),
                "USER": user, "PASSWORD": password, "NAME": database, "OPTIONS": dict(options or {})}


def _field(connection, row, *, primary_key, unique, db_type=None):
    """A Django field standing for an introspected column (as inspectdb builds one): what masking
    needs of a column (its name, max_length, uniqueness, type) when no model declares it."""
    try:
        kind = connection.introspection.get_field_type(row.type_code, row)
    except KeyError:
        kind = "TextField"
    cls = getattr(models, kind if isinstance(kind, str) else "TextField", models.TextField)
    kwargs = {"primary_key": primary_key, "unique": unique and not primary_key, "null": bool(row.null_ok)}
    if issubclass(cls, models.CharField):
        kwargs["max_length"] = row.display_size if row.display_size and row.display_size > 0 else None
    if issubclass(cls, models.DecimalField):
        kwargs.update(max_digits=row.precision, decimal_places=row.scale)
    try:
        field = cls(**kwargs)
    except TypeError:
        field = models.TextField(**{k: v for k, v in kwargs.items() if k != "max_length"})
    field.set_attributes_from_name(row.name)
    field.introspected = True
    if db_type:
        field.db_type = lambda connection: db_type
    return field
