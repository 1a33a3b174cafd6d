"""Mask a database with set-based SQL: one UPDATE per table, in primary-key batches.

Masking is resumable: the masked database keeps a small table, devdb_masking_progress, with one row
per table (rules fingerprint, last primary key done, a keyed sample of source values). Each batch
commits together with its progress row, so a run killed halfway continues where it stopped and a
table already masked with the same rules is never masked twice (a second pass would hash the
hashes). The sample holds HMACs of source values, never the values, and lets verify() prove that
the sampled values changed after the job.
"""

import json
import os
import time
from dataclasses import asdict, dataclass, field

from django.db import connections, transaction

from .. import flavours
from ..connections import connection_for, one_line
from ..errors import ConfigError, DevdbError, MaskingError
from . import rules as rules_module
from .rules import Column, Email, Key, Null, UnusablePassword

PROGRESS_TABLE = "devdb_masking_progress"
BATCH_SIZE = 20_000
SAMPLE_SIZE = 100  # rows from each end of a table
DONE, STARTED = 1, 0



@dataclass
class MaskingReport:
    fingerprint: str
    tables: list = field(default_factory=list)  # one dict per table: table, model, rows, seconds, columns, ...
    rows: int = 0
    seconds: float = 0.0
    verification: dict | None = None  # {"ok": bool, "checks": int, "failures": [str]}
    sql: list = field(default_factory=list)  # a dry run's statements

    @property
    def ok(self):
        return bool(self.verification and self.verification["ok"])

    def as_dict(self):
        data = asdict(self)
        data.pop("sql")
        return data


def _secret_free(exc, alias, key):
    """One line of a database error without the password or the key."""
    return one_line(exc, [connections.settings[alias].get("PASSWORD") or ""] + list(key.params.values()))


class Masking:
    """The plan for one database (read-only), and its execution."""

    def __init__(self, alias, spec, key, batch_size=BATCH_SIZE):
        self.alias = alias
        self.connection = connections[alias]
        self.flavour = flavours.for_vendor(self.connection.vendor)
        self.key = key
        self.batch_size = batch_size
        self.tables = rules_module.resolve(spec)
        self.fingerprint = rules_module.fingerprint(self.tables)
        self.q = self.flavour.quote

    # --- SQL ---------------------------------------------------------------------------------------

    def _columns(self, table):
        """[(Column, Rule, expression)] and the parameters of the expressions."""
        params = dict(self.key.params)
        out = []
        for name, fld, rule in table.columns:
            column = Column(self.q(name), self.q(table.pk), fld, self.flavour, self.connection, params)
            expr = rule.sql(column)
            if not rule.constant:
                if column.max_length:
                    expr = self.flavour.left(expr, column.max_length)
            out.append((column, rule, self.flavour.fit(expr, fld, self.connection)))
        return out, params

    def update_sql(self, table, lower=True, upper=True):
        columns, params = self._columns(table)
        sets = ", ".join(f"{c.sql} = {expr}" for c, _r, expr in columns)
        pk = self.q(table.pk)
        where = [f"{pk} > %(lo)s"] * lower + [f"{pk} <= %(hi)s"] * upper
        return f"UPDATE {self.q(table.table)} SET {sets}" + (" WHERE " + " AND ".join(where) if where else ""), params

    def _fingerprint_sql(self, column):
        f = self.flavour
        return f.left(column.hmac(f.concat("'verify:'", f.text(column.sql))), 16)

    def _sampled(self, table):
        columns, params = self._columns(table)
        return [(c, r) for c, r, _e in columns if not r.constant], params

    # --- execution ---------------------------------------------------------------------------------

    def statements(self):
        """The SQL a run would execute, key material hidden: what a dry run prints."""
        shown = {"ipad": "'<key ipad>'", "opad": "'<key opad>'", "lo": ":last_pk", "hi": ":batch_end_pk"}
        lines = [self.flavour.create_progress_table(PROGRESS_TABLE) + ";"]
        for table in self.tables:
            if table.truncate:
                lines.append(f"{self.flavour.truncate(table.table)};")
                continue
            sql, params = self.update_sql(table)
            values = {**{k: repr(v) for k, v in params.items()}, **shown}
            lines.append(f"-- {table.label}: in batches of {self.batch_size} rows by {table.pk}")
            lines.append((sql % values) + ";")
        return lines

    def run(self, echo=None):
        """Mask every table not yet done with these rules; return the MaskingReport (verified)."""
        echo = echo or (lambda text: None)
        report = MaskingReport(self.fingerprint)
        started = time.monotonic()
        with self.connection.cursor() as cursor:
            cursor.execute(self.flavour.create_progress_table(PROGRESS_TABLE))
        for table in self.tables:
            entry = self._mask_table(table, echo)
            report.tables.append(entry)
            report.rows += entry["rows"]
        report.seconds = round(time.monotonic() - started, 3)
        report.verification = self.verify()
        return report

    def _progress(self, table):
        q = self.q
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT {q('fingerprint')}, {q('last_pk')}, {q('done')}, {q('rows_masked')}, "
                           f"{q('seconds')} FROM {q(PROGRESS_TABLE)} WHERE {q('table_name')} = %(t)s",
                           {"t": table.table})
            return cursor.fetchone()

    def _table_print(self, table):
        return rules_module.fingerprint([table])

    def _start(self, table):
        """A fresh progress row with the keyed sample of source values, before any change."""
        sample = {} if table.truncate else self._sample(table)
        q = self.q
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {q(PROGRESS_TABLE)} WHERE {q('table_name')} = %(t)s", {"t": table.table})
            cursor.execute(f"INSERT INTO {q(PROGRESS_TABLE)} ({q('table_name')}, {q('fingerprint')}, {q('last_pk')}, "
                           f"{q('done')}, {q('rows_masked')}, {q('seconds')}, {q('sample')}) "
                           f"VALUES (%(t)s, %(f)s, NULL, {STARTED}, 0, 0, %(s)s)",
                           {"t": table.table, "f": self._table_print(table), "s": json.dumps(sample)})

    def _sample(self, table):
        sampled, params = self._sampled(table)
        if not sampled:
            return {}
        pk = self.q(table.pk)
        select = ", ".join([pk] + [self._fingerprint_sql(c) for c, _r in sampled])
        rows = []
        with self.connection.cursor() as cursor:
            for order in ("ASC", "DESC"):
                cursor.execute(f"SELECT {select} FROM {self.q(table.table)} ORDER BY {pk} {order} LIMIT {SAMPLE_SIZE}",
                               params)
                rows += cursor.fetchall()
        empty = self.key.hmac("verify:")[:16]
        rows = list({row[0]: row for row in rows}.values())
        return {"pks": [r[0] if isinstance(r[0], int) else str(r[0]) for r in rows],
                "columns": {c.field.column: [v if v not in (None, empty) else None for v in (r[i + 1] for r in rows)]
                            for i, (c, _r) in enumerate(sampled)}}

    def _mask_table(self, table, echo):
        entry = {"table": table.table, "model": table.label, "rows": 0, "seconds": 0.0, "truncated": table.truncate,
                 "columns": {name: rule.describe() for name, _f, rule in table.columns}}
        progress = self._progress(table)
        if progress and progress[0] == self._table_print(table) and progress[2] == DONE:
            echo(f"{table.label}: already masked with these rules ({progress[3]} rows)")
            entry.update(rows=int(progress[3]), seconds=float(progress[4]), resumed="already done")
            return entry
        if not progress or progress[0] != self._table_print(table):
            self._start(table)
            last, rows, seconds = None, 0, 0.0
        else:
            last, rows, seconds = progress[1], int(progress[3]), float(progress[4])
            entry["resumed"] = f"after {table.pk} {last}" if last is not None else "from the start"
            if last is not None:
                last = self._pk(table, last)
        started = time.monotonic() - seconds
        if table.truncate:
            with self.connection.cursor() as cursor:
                cursor.execute(self.flavour.truncate(table.table))
            self._save(table, last, rows, started, done=True)
            echo(f"{table.label}: truncated {table.table}")
            entry.update(seconds=round(time.monotonic() - started, 3))
            return entry
        full_sql, params = self.update_sql(table, lower=True, upper=True)
        first_sql, _ = self.update_sql(table, lower=False, upper=True)
        while True:
            end = self._batch_end(table, last)
            if end is None:
                break
            with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
                cursor.execute(full_sql if last is not None else first_sql, {**params, "lo": last, "hi": end})
                rows += max(cursor.rowcount, 0)
                last = end
                self._save(table, last, rows, started, cursor=cursor)
            echo(f"{table.label}: {rows} rows masked")
        self._save(table, last, rows, started, done=True)
        entry.update(rows=rows, seconds=round(time.monotonic() - started, 3))
        return entry

    def _pk(self, table, text):
        """A primary key read back from the progress table or the sample, as the database takes it."""
        return table.pk_field.get_db_prep_value(table.pk_field.to_python(text), self.connection)

    def _batch_end(self, table, last):
        """The primary key ending the next batch (the batch_size-th after `last`), None when done."""
        q, pk = self.q, self.q(table.pk)
        where = f"WHERE {pk} > %(lo)s " if last is not None else ""
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk} FROM {q(table.table)} {where}ORDER BY {pk} LIMIT 1 OFFSET {self.batch_size - 1}",
                           {"lo": last})
            row = cursor.fetchone()
            if row is None:
                cursor.execute(f"SELECT MAX({pk}) FROM {q(table.table)} {where}", {"lo": last})
                row = cursor.fetchone()
        return row[0] if row else None

    def _save(self, table, last, rows, started, done=False, cursor=None):
        q = self.q
        sql = (f"UPDATE {q(PROGRESS_TABLE)} SET {q('last_pk')} = %(l)s, {q('rows_masked')} = %(r)s, "
               f"{q('seconds')} = %(s)s, {q('done')} = %(d)s WHERE {q('table_name')} = %(t)s")
        params = {"l": None if last is None else str(last), "r": rows, "s": round(time.monotonic() - started, 3),
                  "d": DONE if done else STARTED, "t": table.table}
        if cursor is not None:
            cursor.execute(sql, params)
        else:
            with self.connection.cursor() as own:
                own.execute(sql, params)

    # --- verification ------------------------------------------------------------------------------

    def verify(self):
        """Check the masked database: {"ok", "checks", "failures"}.

        For every table: sampled source values (keyed fingerprints taken before masking) all
        changed; NULL / fixed / empty columns hold only that value; emails are at the safe domain;
        passwords unusable; unique columns still unique; truncated tables empty; masking finished.
        """
        failures, checks = [], 0
        q = self.q
        with self.connection.cursor() as cursor:
            for table in self.tables:
                name = q(table.table)
                checks += 1
                cursor.execute(f"SELECT {q('fingerprint')}, {q('done')}, {q('sample')} FROM {q(PROGRESS_TABLE)} "
                               f"WHERE {q('table_name')} = %(t)s", {"t": table.table})
                progress = cursor.fetchone()
                if not progress or progress[0] != self._table_print(table) or progress[1] != DONE:
                    failures.append(f"{table.table}: masking with these rules did not finish")
                    continue
                if table.truncate:
                    checks += 1
                    cursor.execute(f"SELECT COUNT(*) FROM {name}")
                    if count := cursor.fetchone()[0]:
                        failures.append(f"{table.table}: {count} rows left in a truncated table")
                    continue
                columns, params = self._columns(table)
                for column, rule, _expr in columns:
                    col = column.sql
                    bad = None
                    if isinstance(rule, Null):
                        bad = f"{col} IS NOT NULL"
                    elif rule.constant:
                        bad = f"({col} IS NULL OR {col} <> %(value)s)"
                        params["value"] = rule.value
                    elif isinstance(rule, Email):
                        bad = f"{col} NOT LIKE %(like)s"
                        params["like"] = f"%@{rule.domain}"
                    elif isinstance(rule, UnusablePassword):
                        bad = f"{col} NOT LIKE '!%%'"
                    if bad:
                        checks += 1
                        cursor.execute(f"SELECT COUNT(*) FROM {name} WHERE {bad}", params)
                        if count := cursor.fetchone()[0]:
                            failures.append(f"{table.table}.{column.field.column}: {count} rows not masked as {rule.name}")
                    if column.field.unique:
                        checks += 1
                        cursor.execute(f"SELECT COUNT({col}) - COUNT(DISTINCT {col}) FROM {name}")
                        if dupes := cursor.fetchone()[0]:
                            failures.append(f"{table.table}.{column.field.column}: unique column has {dupes} duplicates")
                failures += self._verify_sample(cursor, table, json.loads(progress[2] or "{}"))
                checks += 1
        return {"ok": not failures, "checks": checks, "failures": failures}

    def _verify_sample(self, cursor, table, sample):
        pks = sample.get("pks") or []
        if not pks:
            return []
        sampled, params = self._sampled(table)
        sampled = [(c, r) for c, r in sampled if c.field.column in sample["columns"]]
        if not sampled:
            return []
        pk = self.q(table.pk)
        marks = ", ".join(f"%(k{i})s" for i in range(len(pks)))
        params.update({f"k{i}": self._pk(table, value) for i, value in enumerate(pks)})
        cursor.execute(f"SELECT {', '.join([pk] + [self._fingerprint_sql(c) for c, _r in sampled])} "
                       f"FROM {self.q(table.table)} WHERE {pk} IN ({marks})", params)
        now = {row[0]: row[1:] for row in cursor.fetchall()}
        failures = []
        for i, (column, _rule) in enumerate(sampled):
            before = dict(zip(pks, sample["columns"][column.field.column]))
            same = sum(1 for key, value in before.items() if value is not None and key in now and now[key][i] == value)
            if same:
                failures.append(f"{table.table}.{column.field.column}: {same} sampled values equal their source value")
        return failures


def _spec_and_key(rules, key, dry_run=False):
    spec = rules_module.masking_spec() if rules is None else rules
    if not spec:
        raise ConfigError("DEVDB['MASKING'] is empty: there are no masking rules")
    if dry_run and not key and not os.environ.get(rules_module.KEY_ENV):
        key = "dry run: no key"  # a dry run prints the SQL with the key material hidden: any key shows the same
    key = key if isinstance(key, Key) else (Key(key) if key else Key.from_env(os.environ))
    return spec, key


def mask_clone(database, rules=None, key=None, *, batch_size=BATCH_SIZE, dry_run=False, echo=None):
    """Mask `database` (alias, URL or connection dict, see connection_for) with `rules`
    (default DEVDB["MASKING"]) and `key` (default $DEVDB_MASKING_KEY); return the verified
    MaskingReport (report.ok). Rerun after a kill, it finishes the job. A dry run only reads:
    report.sql lists the statements (key material hidden)."""
    spec, key = _spec_and_key(rules, key, dry_run)
    with connection_for(database, "masking") as alias:
        try:
            masking = Masking(alias, spec, key, batch_size)
            if dry_run:
                return MaskingReport(masking.fingerprint, sql=masking.statements())
            return masking.run(echo)
        except DevdbError:
            raise
        except Exception as exc:
            raise MaskingError(f"masking failed: {_secret_free(exc, alias, key)}") from None


def verify(database, rules=None, key=None):
    """Verify an already masked database (see Masking.verify); {"ok", "checks", "failures"}."""
    spec, key = _spec_and_key(rules, key)
    with connection_for(database, "masking") as alias:
        try:
            return Masking(alias, spec, key).verify()
        except DevdbError:
            raise
        except Exception as exc:
            raise MaskingError(f"verification failed: {_secret_free(exc, alias, key)}") from None
