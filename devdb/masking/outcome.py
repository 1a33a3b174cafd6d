"""Verification of outcomes: after masking, no sampled original value is left anywhere in the database.

Before masking, `take_sample` reads original values of every masked column (both ends of each table
and windows spread over its primary key) and counts the rows of every table. The values live in this
process's memory only: never logged (the statements carrying them run on the driver's cursor, which
Django's SQL debug log does not see), never stored, never shown; reports carry counts. After masking,
`check` proves:

- every sampled row's masked columns changed (rules that derive a value from the row);
- no sampled text value is left in ANY text column of the database: every char, text and JSON column
  (PostgreSQL: inet too) of every table, masked or not, in every schema the masking connection sees
  (MySQL: its database; PostgreSQL: every non-system schema). One scan per table, case-insensitive:
  * exact matches of every sampled value of at least EXACT_MIN characters (shorter ones, "M", "NY",
    name nobody), in every text column: a hashed lookup per row, cheap at any sample size;
  * substring matches (a phone number copied into a note) in the text columns whose content the
    rules do not generate: kept ones, tables without rules, columns of custom rules. A built-in rule
    writes a value computed from a keyed hash, never the source text, and the exact and per-row
    checks already catch one that failed. Searched inside text are values of at least SUBSTRING_MIN
    characters, HEX_SUBSTRING_MIN when only hex digits (a 6-digit postcode turns up by chance in a
    million 64-digit hashes), not part of the rules' own vocabulary ("Taylor" is a real first name
    and a fake one: masked "Taylor-3f2" or filler text is no copy; such values are still matched
    exactly), and not email addresses (next check). Cost grows with rows x values, so at most
    SUBSTRING_PER_COLUMN random ones per masked column: a column holding copies holds them for most
    rows, and any few sampled values find it;
- no text column the rules do not generate holds an email address outside the rules' safe domains
  (every row, not a sample: it also catches a `keep` on a column of addresses no sample sees);
- every table has the rows it had before masking (a truncated table none);
- no foreign key, read from the catalog, whose column or target column was masked or whose target
  table was truncated, points at nothing.

A resumed run can only sample what is still original (the rows after the last masked key of a table
masking stopped in, tables not started); the report says so.
"""

import random
import re
from dataclasses import dataclass, field

from ..errors import MaskingError
from .rules import FIRST_NAMES, LAST_NAMES, LOREM, SAFE_DOMAIN, Custom, Email, Json

EXACT_MIN = 3
SUBSTRING_MIN = 6
HEX_SUBSTRING_MIN = 12
SUBSTRING_PER_COLUMN = 8
ENDS = 100  # rows sampled from each end of a table
WINDOWS, WINDOW_ROWS = 8, 25  # and windows spread over an integer primary key
HEX = re.compile(r"[0-9a-f]+")
VOCABULARY = " | ".join([*FIRST_NAMES, *LAST_NAMES, LOREM, "masked", SAFE_DOMAIN, "+1 555 01", "192.0.2."]).lower()
ADDRESS = re.compile(r"@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")  # (lower-case text) what follows an address's @


@dataclass(repr=False)
class Sample:
    """Original values (memory only) and row counts, taken before masking."""

    originals: dict = field(default_factory=dict)  # {(table, column): {pk: text}}
    counts: dict = field(default_factory=dict)  # {(schema, table): rows}
    notes: list = field(default_factory=list)

    def __repr__(self):  # never the values, in a traceback or a log
        return f"<Sample: {sum(map(len, self.originals.values()))} values, {len(self.counts)} tables>"


class Catalog:
    """The masked database's tables and columns, read through the flavour."""

    def __init__(self, masking, cursor):
        cursor.execute(masking.flavour.columns_sql())
        rows = cursor.fetchall()
        self.schema = next(r[0] for r in rows if r[1] is None)
        from .apply import PROGRESS_TABLE

        # The schemas the gate read (MASKING_SCHEMAS, else every non-system one): the same scope.
        scope = {t.schema for t in getattr(masking, "schema", None) or ()} or {self.schema}
        self.columns = sorted((tuple(r) for r in rows if r[1] is not None and r[0] in scope
                               and not (r[0] == self.schema and r[1] == PROGRESS_TABLE)),
                              key=lambda r: (r[0] != self.schema, r[0], r[1]))  # a table's columns in catalog order
        self.tables = sorted({(s, t) for s, t, _c, _d in self.columns})
        self.types = {(s, t, c): d for s, t, c, d in self.columns}

    def place(self, table_rules):
        """(schema, table) of a TableRules: its TableName names another schema, else the connection's."""
        name = table_rules.table
        return getattr(name, "schema", None) or self.schema, getattr(name, "name", str(name))

    def qualified(self, masking, schema, table):
        return f"{masking.q(schema)}.{masking.q(table)}"


def _sampled_columns(masking, catalog, table):
    """[(column name, rule, text expression, searchable)] of a table's masked columns. A JSON rule
    masking named keys samples each key's value ("profile.email"), not the document: the keys it
    keeps stay as they were, and the values it masks are what must not survive anywhere."""
    out = []
    for name, _field, rule in table.columns:
        if isinstance(rule, Json) and rule.keys:
            out += [(f"{name}.{path}", rule, masking.flavour.json_value(masking.q(name), path.split(".")), True)
                    for path in rule.keys]
            continue
        data_type = catalog.types.get((*catalog.place(table), name), "")
        search = masking.flavour.searchable(data_type)
        expr = search.format(column=masking.q(name)) if search else masking.flavour.text(masking.q(name))
        out.append((name, rule, expr, bool(search)))
    return out


def take_sample(masking, progress, cursor):
    """Originals of every masked column still original, and every table's row count.

    `progress` is {table: (fingerprint, last_pk, done, ...) or None} as this run found it."""
    from .apply import DONE

    catalog = Catalog(masking, cursor)
    sample = Sample()
    for schema, table in catalog.tables:
        cursor.execute(f"SELECT COUNT(*) FROM {catalog.qualified(masking, schema, table)}")
        sample.counts[(schema, table)] = cursor.fetchone()[0]
    for table in masking.tables:
        if table.truncate or not table.columns:
            continue
        state = progress.get(table.table)
        if state and state[2] == DONE:
            sample.notes.append(f"{table.table}: masked before this run, nothing original left to sample")
            continue
        where, params, resumed = masking.unmasked(table) if state else ("", {}, "")
        if where:
            sample.notes.append(f"{table.table}: resumed {resumed}: sampled only the rows not masked yet")
        columns = _sampled_columns(masking, catalog, table)
        rows = _sample_rows(masking, cursor, table, columns, where, params)
        for i, (name, _rule, _expr, _search) in enumerate(columns):
            sample.originals[(table.table, name)] = {pk: values[i] for pk, values in rows.items()
                                                    if values[i] not in (None, "")}
    return sample


def _sample_rows(masking, cursor, table, columns, condition, params):
    """{pk: (text, ...)}: both ends of the table (of the rows matching `condition`, when given), and
    windows spread over an integer key."""
    pk, name = masking.q(table.pk), masking.q(table.table)
    select = ", ".join([pk] + [expr for _n, _r, expr, _s in columns])
    where = f"WHERE {condition}" if condition else ""
    rows = {}
    for order in ("ASC", "DESC"):
        cursor.execute(f"SELECT {select} FROM {name} {where} ORDER BY {pk} {order} LIMIT {ENDS}", params)
        rows.update((r[0], r[1:]) for r in cursor.fetchall())
    cursor.execute(f"SELECT MIN({pk}), MAX({pk}) FROM {name} {where}", params)
    low, high = cursor.fetchone()
    if isinstance(low, int) and isinstance(high, int) and high - low > 2 * ENDS:
        for start in sorted(random.SystemRandom().randrange(low, high) for _ in range(WINDOWS)):
            also = f" AND {condition}" if condition else ""
            cursor.execute(f"SELECT {select} FROM {name} WHERE {pk} >= %(at)s{also} ORDER BY {pk} LIMIT {WINDOW_ROWS}",
                           {**params, "at": start})
            rows.update((r[0], r[1:]) for r in cursor.fetchall())
    return rows


def _searched_values(masking, sample, catalog):
    """{(table, column): (exact values, substring values)} of searchable sampled columns."""
    constants = {str(rule.value).lower() for t in masking.tables for _n, _f, rule in t.columns
                 if rule.constant and rule.value is not None}
    out = {}
    for table in masking.tables:
        for name, _rule, _expr, search in _sampled_columns(masking, catalog, table):
            values = sample.originals.get((table.table, name))
            if not search or not values:
                continue
            exact = sorted({v for v in values.values() if len(v) >= EXACT_MIN and v.lower() not in constants})
            meaningful = [v for v in exact if v.lower() not in VOCABULARY and
                          len(v) >= (HEX_SUBSTRING_MIN if HEX.fullmatch(v.lower()) else SUBSTRING_MIN)]
            inner = [v for v in meaningful if not ADDRESS.search(v.lower())]
            if len(inner) > SUBSTRING_PER_COLUMN:
                inner = random.SystemRandom().sample(inner, SUBSTRING_PER_COLUMN)
            out[(table.table, name)] = (exact, inner, meaningful)
    return out


def _email_outside(masking, expr, domains, params):
    """SQL: `expr` holds an email address at none of `domains` (theirs removed first: cheap on masked text)."""
    text = f"LOWER({expr})"
    for domain in domains:
        name = f"v{len(params)}"
        params[name] = "@" + domain.lower()
        text = f"REPLACE({text}, %({name})s, '')"
    name = f"v{len(params)}"
    params[name] = ADDRESS.pattern
    return f"({text} LIKE '%%@%%' AND {masking.flavour.regex(text, name)})"


def check(masking, sample, cursor):
    """(failures, checks, details) of the outcome checks; `sample` None when there is none (verify()
    on its own): then only the email and foreign-key checks run."""
    from .apply import raw_cursor

    catalog = Catalog(masking, cursor)
    failures, checks = [], 0
    searched = _searched_values(masking, sample, catalog) if sample else {}
    exact = sorted({v for e, _i, _m in searched.values() for v in e})
    inner = sorted({v for _e, i, _m in searched.values() for v in i})
    domains = sorted({SAFE_DOMAIN} | {r.domain for t in masking.tables for _n, _f, r in t.columns if isinstance(r, Email)})
    generated = {(*catalog.place(t), c) for t in masking.tables for c, _f, r in t.columns if not isinstance(r, Custom)}
    text_columns = {}
    for schema, table, column, data_type in catalog.columns:
        if (expr := masking.flavour.searchable(data_type)) is not None:
            text_columns.setdefault((schema, table), []).append(
                (column, expr.format(column=masking.q(column)), (schema, table, column) not in generated))
    with raw_cursor(masking.connection) as raw:  # the parameters are original values: no debug log
        for (schema, table), columns in text_columns.items():
            params, sums = {}, []
            for _column, expr, free in columns:
                sums.append(masking.flavour.matches_any(expr, exact, inner if free else [], params))
                sums.append(_email_outside(masking, expr, domains, params) if free else "1 = 0")
            select = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)" for cond in sums)
            try:
                raw.execute(f"SELECT {select} FROM {catalog.qualified(masking, schema, table)}", params)
            except Exception as exc:  # the driver's text may quote the values searched for
                raise MaskingError(f"verification: searching {table} failed ({type(exc).__name__})") from None
            counts = raw.fetchone()
            checks += sum(1 + free for _c, _e, free in columns)
            for i, (column, expr, free) in enumerate(columns):
                where = f"{table}.{column}" if schema == catalog.schema else f"{schema}.{table}.{column}"
                if copies := counts[2 * i] or 0:
                    params = {}
                    cond = masking.flavour.matches_any(expr, exact, inner if free else [], params)
                    sources = _sources(raw, catalog.qualified(masking, schema, table), expr, cond, params, searched)
                    failures.append(f"{where}: {copies} rows hold a sampled original value"
                                    + (f" of {', '.join(sources)}" if sources else ""))
                if emails := counts[2 * i + 1] or 0:
                    params = {}
                    cond = _email_outside(masking, expr, domains, params)
                    sources = _sources(raw, catalog.qualified(masking, schema, table), expr, cond, params, searched)
                    failures.append(f"{where}: {emails} rows hold an email address outside {', '.join(domains)}"
                                    + (f" (sampled values of {', '.join(sources)} among them)" if sources else ""))
    if sample:
        checks += 1
        failures += _changed_rows(masking, cursor, catalog, sample)
        for (schema, table), before in sample.counts.items():
            checks += 1
            truncated = any(t.truncate and catalog.place(t) == (schema, table) for t in masking.tables)
            if (schema, table) not in catalog.tables:
                failures.append(f"{table}: the table is gone ({before} rows before masking)")
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {catalog.qualified(masking, schema, table)}")
            after = cursor.fetchone()[0]
            if after != (0 if truncated else before):
                failures.append(f"{table}: {after} rows after masking, {before} before")
    fk_failures, fk_checks = _foreign_keys(masking, cursor, catalog)
    failures += fk_failures
    details = {
        "sampled": {f"{t}.{c}": len(v) for (t, c), v in (sample.originals if sample else {}).items()},
        "sample_notes": (sample.notes if sample else
                         ["no sample: verify() after the run sees only masked values (the run itself samples)"]),
        "searched": {"tables": len(text_columns), "columns": sum(map(len, text_columns.values())),
                     "values": len(exact), "substrings": len(inner),
                     "in": {f"{t}" if s == catalog.schema else f"{s}.{t}": [c for c, _e, _f in cols]
                            for (s, t), cols in text_columns.items()}},
        "rows_counted": len(sample.counts) if sample else 0,
        "foreign_keys": fk_checks,
    }
    return failures, checks + fk_checks, details


def _sources(raw, table, expr, cond, params, searched):
    """Which sampled columns' values the rows matching `cond` hold, whole or inside (read back and
    matched here, up to 200 rows; never shown)."""
    raw.execute(f"SELECT {expr} FROM {table} WHERE {cond} LIMIT 200", params)
    found = [str(r[0]).lower() for r in raw.fetchall() if r[0] is not None]
    whole = set(found)
    return [f"{t}.{c}" for (t, c), (values, _inner, meaningful) in searched.items()
            if any(v.lower() in whole for v in values) or any(m.lower() in text for m in meaningful for text in found)]


def _changed_rows(masking, cursor, catalog, sample):
    """Failures where a sampled row still holds its own original value (rules deriving a value)."""
    failures = []
    from .apply import raw_cursor

    for table in masking.tables:
        columns = [c for c in _sampled_columns(masking, catalog, table) if not c[1].constant]
        pks = list({pk for name, *_ in columns for pk in sample.originals.get((table.table, name), {})})
        if not columns or not pks:
            continue
        params = {f"k{i}": pk for i, pk in enumerate(pks)}
        marks = ", ".join(f"%(k{i})s" for i in range(len(pks)))
        with raw_cursor(masking.connection) as raw:
            raw.execute(f"SELECT {masking.q(table.pk)}, {', '.join(e for _n, _r, e, _s in columns)} "
                        f"FROM {masking.q(table.table)} WHERE {masking.q(table.pk)} IN ({marks})", params)
            now = {r[0]: r[1:] for r in raw.fetchall()}
        for i, (name, _rule, _expr, _search) in enumerate(columns):
            before = sample.originals.get((table.table, name), {})
            same = sum(1 for pk, value in before.items() if pk in now and now[pk][i] == value)
            if same:
                failures.append(f"{table.table}.{name}: {same} sampled rows still hold their original value")
    return failures


def _foreign_keys(masking, cursor, catalog):
    """Orphans of catalog foreign keys whose column or target was masked, or whose target was truncated."""
    cursor.execute(masking.flavour.foreign_keys_sql())
    keys = {}
    for name, schema, table, column, ref_schema, ref_table, ref_column in cursor.fetchall():
        if (schema, table) not in catalog.tables:  # outside what the gate read (another database)
            continue
        keys.setdefault((schema, table, name), []).append((column, ref_schema, ref_table, ref_column))
    masked = {(*catalog.place(t), c) for t in masking.tables for c, _f, _r in t.columns}
    truncated = {catalog.place(t) for t in masking.tables if t.truncate}
    failures, checks = [], 0
    for (schema, table, name), pairs in keys.items():
        ref_schema, ref_table = pairs[0][1], pairs[0][2]
        if (schema, table) in truncated:
            continue
        touched = ((ref_schema, ref_table) in truncated
                   or any((schema, table, c) in masked or (rs, rt, rc) in masked for c, rs, rt, rc in pairs))
        if not touched:
            continue
        checks += 1
        q = masking.q
        present = " AND ".join(f"c.{q(c)} IS NOT NULL" for c, *_ in pairs)
        join = " AND ".join(f"p.{q(rc)} = c.{q(c)}" for c, _rs, _rt, rc in pairs)
        cursor.execute(f"SELECT COUNT(*) FROM {catalog.qualified(masking, schema, table)} c WHERE {present} AND NOT "
                       f"EXISTS (SELECT 1 FROM {catalog.qualified(masking, ref_schema, ref_table)} p WHERE {join})")
        if orphans := cursor.fetchone()[0]:
            columns = ", ".join(c for c, *_ in pairs)
            failures.append(f"{table}.{columns}: {orphans} rows point at no {ref_table} row (foreign key {name})")
    return failures, checks
