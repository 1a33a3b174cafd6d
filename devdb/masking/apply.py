"""Mask a database with set-based SQL: one UPDATE per table, in primary-key batches, on `workers`
connections at once (each masks its own primary-key range of the table).

Masking is resumable: the masked database keeps a small table, devdb_masking_progress, with one row
per table (fingerprint, done), one per primary-key range of it, named `<table>#<n>` (the range's
bounds, assigned up front, in `sample`; the last primary key done in `last_pk`), and one for the
whole run (RUN). Each batch commits together with its range's row, so a run killed halfway
continues where it stopped (with any number of workers) and a table already masked is never masked
twice (a second pass would hash the hashes). Fingerprints cover the rules and the key (its `Key.id`,
never the key): a database masked, even partly, with other rules or another key is refused, not
masked again. Verification proves outcomes (see devdb.masking.outcome).

Key material (the HMAC pads) and original values are statement parameters only, on the driver's
own cursor (raw_cursor): Django's SQL debug log never sees them; error texts are cleaned of them.
"""

import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from django.db import connections, transaction

from .. import flavours
from ..connections import connection_for, one_line
from ..errors import ConfigError, DevdbError, MaskingError, Undecided
from ..flavours import base
from . import gate, outcome
from . import rules as rules_module
from .rules import KEY_ENV, Column, Email, Json, Key, Null, UnusablePassword

PROGRESS_TABLE = base.PROGRESS_TABLE  # "devdb_masking_progress": the gate skips it
BATCH_SIZE = 20_000
DONE, STARTED = 1, 0
RUN = "*"  # the progress row of the whole run: its fingerprint covers every table's rules and the key


@contextmanager
def raw_cursor(connection):
    """The driver's own cursor of a Django connection (in its transaction). Django's debug cursor
    (DEBUG, connection.force_debug_cursor) logs each statement with its parameters to
    django.db.backends at DEBUG: statements whose parameters are key material or original values run
    here instead."""
    with connection.cursor() as wrapper:
        yield wrapper.cursor


@dataclass
class MaskingReport:
    fingerprint: str
    tables: list = field(default_factory=list)  # one dict per table: table, model, rows, seconds, columns, ...
    rows: int = 0
    seconds: float = 0.0
    verification: dict | None = None  # {"ok", "checks", "failures", "sampled", "searched", ...}: see verify()
    sql: list = field(default_factory=list)  # a dry run's statements

    @property
    def ok(self):
        return bool(self.verification and self.verification["ok"])

    def as_dict(self):
        data = asdict(self)
        data.pop("sql")
        return data


def _secret_free(exc, alias, key):
    """One line of a database error without the password or the key: a driver may quote the statement,
    pads bound into it, whole or cut (MySQL's "near '...'", PostgreSQL's LINE 1: ...)."""
    text = one_line(exc, [connections.settings[alias].get("PASSWORD") or ""] + key.secrets())
    pads = [p.lower() for p in key.secrets()[1:]]
    return re.sub(r"[0-9A-Fa-f]{8,}", lambda m: "***" if any(m.group().lower() in p for p in pads) else m.group(), text)


class Masking:
    """The plan for one database (read-only), and its execution."""

    def __init__(self, alias, spec, key, batch_size=BATCH_SIZE, workers=1, schemas=None):
        self.alias = alias
        self.workers = max(1, int(workers))
        self.connection = connections[alias]
        self.flavour = flavours.for_vendor(self.connection.vendor)
        self.key = key
        self.batch_size = batch_size
        # Fail closed: the database's own tables and columns (not a model list) must all be decided.
        self.schema = self.flavour.introspect(self.connection, gate.masking_schemas() if schemas is None else schemas)
        if missing := gate.undecided_in(spec, self.schema):
            raise Undecided(f"masking refused, {gate.summary(missing)}: DEVDB['MASKING'] needs a rule or 'keep' "
                            "for each (python manage.py mask_devdb --check lists them)")
        self.tables = rules_module.resolve(spec, self.schema)
        self.fingerprint = rules_module.fingerprint(self.tables)
        self.run_print = self._keyed(self.fingerprint)
        self.q = self.flavour.quote

    def _keyed(self, rules_print):
        """A fingerprint of rules and key together (the key by its id: nothing to learn it from)."""
        return hashlib.sha256(f"{self.key.id}:{rules_print}".encode()).hexdigest()[:16]

    # --- SQL ---------------------------------------------------------------------------------------

    def _columns(self, table, hashes=None):
        """[(Column, Rule, expression)] and the parameters of the expressions. With `hashes` (a dict),
        the expressions refer to HMACs computed once per row (see update_sql)."""
        params = dict(self.key.params)
        out = []
        for name, fld, rule in table.columns:
            column = Column(self.q(name), self.q(table.pk), fld, self.flavour, self.connection, params, hashes)
            expr = rule.sql(column)
            if not rule.constant:
                if column.max_length:
                    expr = self.flavour.left(expr, column.max_length)
            out.append((column, rule, self.flavour.fit(expr, fld, self.connection)))
        return out, params

    def update_sql(self, table, lower=True, upper=True):
        """One UPDATE of the table's rows with primary key > %(lo)s (lower) and <= %(hi)s (upper).
        Each distinct HMAC (a column's value, or the primary key) is computed once per row, however
        many rules and parts of rules use it."""
        hashes = {}
        columns, params = self._columns(table, hashes)
        pk = self.q(table.pk)
        where = [f"{pk} > %(lo)s"] * lower + [f"{pk} <= %(hi)s"] * upper
        computed = [(alias, self.flavour.hmac_sha256(expr, "ipad", "opad")) for expr, alias in hashes.items()]
        return self.flavour.update(self.q(table.table), pk, [(c.sql, expr) for c, _r, expr in columns], where,
                                   computed), params

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
            lines.append(f"-- {table.label}: in batches of {self.batch_size} rows by {table.pk}"
                         + (f", on {self.workers} connections (one range of {table.pk} each)" if self.workers > 1 else ""))
            lines.append((sql % values) + ";")
        return lines

    def run(self, echo=None):
        """Mask every table not yet done with these rules; return the MaskingReport (verified)."""
        echo = echo or (lambda text: None)
        report = MaskingReport(self.fingerprint)
        started = time.monotonic()
        with self.connection.cursor() as cursor:
            cursor.execute(self.flavour.create_progress_table(PROGRESS_TABLE))
            progress = self.progress = self._resumable(cursor)
            sample = outcome.take_sample(self, progress, cursor)
        for table in self.tables:
            entry = self._mask_table(table, echo)
            report.tables.append(entry)
            report.rows += entry["rows"]
        with self.connection.cursor() as cursor:
            cursor.execute(f"UPDATE {self.q(PROGRESS_TABLE)} SET {self.q('done')} = {DONE} "
                           f"WHERE {self.q('table_name')} = %(t)s", {"t": RUN})
        report.seconds = round(time.monotonic() - started, 3)
        report.verification = self.verify(sample)
        return report

    def _resumable(self, cursor):
        """{table: progress row or None}, after refusing a database masked (even partly) with other
        rules or another key: masking it again would mask masked values."""
        q = self.q
        cursor.execute(f"SELECT {q('table_name')}, {q('fingerprint')}, {q('last_pk')}, {q('done')}, "
                       f"{q('rows_masked')}, {q('seconds')} FROM {q(PROGRESS_TABLE)}")
        rows = {r[0]: tuple(r[1:]) for r in cursor.fetchall()}
        run = rows.pop(RUN, None)
        if rows and (run is None or run[0] != self.run_print) or run and run[0] != self.run_print:
            whole = run[2] == DONE if run else all(r[2] == DONE for r in rows.values())
            how = "masked" if whole else "partly masked"
            raise MaskingError(f"this database was {how} with other rules or another key (DEVDB['MASKING'] or "
                               f"{KEY_ENV} changed since): masking it again would mask masked values; "
                               "mask a fresh copy of the source")
        if run is None:
            cursor.execute(f"INSERT INTO {q(PROGRESS_TABLE)} ({q('table_name')}, {q('fingerprint')}, {q('last_pk')}, "
                           f"{q('done')}, {q('rows_masked')}, {q('seconds')}, {q('sample')}) "
                           f"VALUES (%(t)s, %(f)s, NULL, {STARTED}, 0, 0, '')", {"t": RUN, "f": self.run_print})
        return {table.table: rows.get(table.table) for table in self.tables}

    def _table_print(self, table):
        return self._keyed(rules_module.fingerprint([table]))

    def _start(self, table):
        """A fresh progress row, before any change, and one row per primary-key range (as many as
        workers), assigned up front."""
        bounds = [] if table.truncate else self._bounds(table)
        q = self.q
        insert = (f"INSERT INTO {q(PROGRESS_TABLE)} ({q('table_name')}, {q('fingerprint')}, {q('last_pk')}, "
                  f"{q('done')}, {q('rows_masked')}, {q('seconds')}, {q('sample')}) "
                  f"VALUES (%(t)s, %(f)s, %(l)s, {STARTED}, 0, 0, %(s)s)")
        printed = self._table_print(table)
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {q(PROGRESS_TABLE)} WHERE {q('table_name')} = %(t)s", {"t": table.table})
            for name, _r in self._range_rows(table, cursor):
                cursor.execute(f"DELETE FROM {q(PROGRESS_TABLE)} WHERE {q('table_name')} = %(t)s", {"t": name})
            cursor.execute(insert, {"t": table.table, "f": printed, "l": None, "s": ""})
            edges = [None, *bounds, None]
            for n, (low, high) in enumerate(zip(edges, edges[1:]), 1):
                cursor.execute(insert, {"t": f"{table.table}#{n}", "f": printed, "l": low,
                                        "s": json.dumps({"range": [low, high]})})

    def _bounds(self, table):
        """The primary keys (as text) ending each range but the last: workers ranges of equal rows."""
        if self.workers < 2:
            return []
        pk, name = self.q(table.pk), self.q(table.table)
        bounds = []
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {name}")
            count = cursor.fetchone()[0]
            for i in range(1, self.workers):
                offset = count * i // self.workers - 1
                if offset < 0:
                    continue
                cursor.execute(f"SELECT {pk} FROM {name} ORDER BY {pk} LIMIT 1 OFFSET {offset}")
                row = cursor.fetchone()
                if row and str(row[0]) not in bounds:
                    bounds.append(str(row[0]))
        return bounds

    def _range_rows(self, table, cursor):
        """[(name, (last_pk, done, rows_masked, seconds, sample))] of the table's ranges, in order."""
        q = self.q
        cursor.execute(f"SELECT {q('table_name')}, {q('last_pk')}, {q('done')}, {q('rows_masked')}, {q('seconds')}, "
                       f"{q('sample')}, {q('fingerprint')} FROM {q(PROGRESS_TABLE)}")
        prefix = f"{table.table}#"
        found = [(row[0], row[1:]) for row in cursor.fetchall()
                 if row[0].startswith(prefix) and row[0][len(prefix):].isdigit()]
        return sorted(found, key=lambda item: int(item[0][len(prefix):]))

    def _mask_table(self, table, echo):
        entry = {"table": table.table, "model": table.label, "rows": 0, "seconds": 0.0, "truncated": table.truncate,
                 "columns": {name: rule.describe() for name, _f, rule in table.columns}}
        progress = self.progress[table.table]  # as run() read it: (fingerprint, last_pk, done, rows, seconds)
        if progress and progress[0] == self._table_print(table) and progress[2] == DONE:
            echo(f"{table.label}: already masked with these rules ({progress[3]} rows)")
            entry.update(rows=int(progress[3]), seconds=float(progress[4]), resumed="already done")
            return entry
        resuming = bool(progress and progress[0] == self._table_print(table))
        if not resuming:
            self._start(table)
        started = time.monotonic() - (float(progress[4]) if resuming else 0.0)
        if table.truncate:
            with self.connection.cursor() as cursor:
                cursor.execute(self.flavour.truncate(table.table))
            self._save(table.table, None, 0, started, done=True)
            echo(f"{table.label}: truncated {table.table}")
            entry.update(seconds=round(time.monotonic() - started, 3))
            return entry
        ranges = self._ranges(table, progress if resuming else None)
        if resuming:
            entry["resumed"] = ", ".join(f"after {table.pk} {r['last']}" if r["last"] != r["low"] else "from the start"
                                         for r in ranges if not r["done"]) or "from the start"
        self._run_ranges(table, [r for r in ranges if not r["done"]], echo)
        with self.connection.cursor() as cursor:
            rows = sum(int(values[2]) for _name, values in self._range_rows(table, cursor))
        self._save(table.table, None, rows, started, done=True)
        entry.update(rows=rows, seconds=round(time.monotonic() - started, 3))
        return entry

    def _ranges(self, table, progress):
        """The table's ranges as dicts (name, low, high, last, done, rows, seconds); a table half masked
        before ranges existed continues as one range from its last primary key."""
        with self.connection.cursor() as cursor:
            found = self._range_rows(table, cursor)
        if not found and progress is not None:  # an older progress table: one row per table
            last = progress[1]
            q = self.q
            with self.connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {q(PROGRESS_TABLE)} ({q('table_name')}, {q('fingerprint')}, {q('last_pk')}, "
                               f"{q('done')}, {q('rows_masked')}, {q('seconds')}, {q('sample')}) "
                               f"VALUES (%(t)s, %(f)s, %(l)s, {STARTED}, %(r)s, 0, %(s)s)",
                               {"t": f"{table.table}#1", "f": self._table_print(table), "l": last,
                                "r": int(progress[3] or 0), "s": json.dumps({"range": [None, None]})})
                found = self._range_rows(table, cursor)
        out = []
        for name, (last, done, rows, seconds, sample, _print) in found:
            low, high = json.loads(sample)["range"]
            out.append({"name": name, "low": low, "high": high, "last": last, "done": done == DONE,
                        "rows": int(rows), "seconds": float(seconds)})
        return out

    def _run_ranges(self, table, ranges, echo):
        """Mask the ranges, on min(workers, ranges) connections; the first failure stops the others
        after their current batch and is raised."""
        if not ranges:
            return
        if self.workers < 2 or len(ranges) == 1:
            for rng in ranges:
                self._mask_range(table, rng, echo, None)
            return
        stop = threading.Event()

        def work(rng):
            try:
                return self._mask_range(table, rng, echo, stop)
            except BaseException:
                stop.set()
                raise
            finally:
                connections[self.alias].close()  # this thread's own connection

        with ThreadPoolExecutor(max_workers=min(self.workers, len(ranges)), thread_name_prefix="devdb-mask") as pool:
            futures = [pool.submit(work, rng) for rng in ranges]
        for future in futures:
            future.result()  # raises the first failure

    def _mask_range(self, table, rng, echo, stop):
        connection = connections[self.alias]
        high = None if rng["high"] is None else self._pk(table, rng["high"])
        last = None if rng["last"] is None else self._pk(table, rng["last"])
        rows = rng["rows"]
        started = time.monotonic() - rng["seconds"]
        sql = {}
        several = self.workers > 1
        while not (stop and stop.is_set()):
            end = self._batch_end(table, last, high, connection)
            if end is None:
                break
            lower = last is not None
            if lower not in sql:
                sql[lower] = self.update_sql(table, lower=lower, upper=True)
            statement, params = sql[lower]
            with transaction.atomic(using=self.alias), raw_cursor(connection) as cursor:  # pads: no debug log
                cursor.execute(statement, {**params, "lo": last, "hi": end})
                rows += max(cursor.rowcount, 0)
                last = end
                self._save(rng["name"], last, rows, started, cursor=cursor)
            echo(f"{table.label}: {rows} rows masked" + (f" ({rng['name']})" if several else ""))
        if stop and stop.is_set():
            return
        self._save(rng["name"], last, rows, started, done=True, connection=connection)

    def unmasked(self, table):
        """(SQL condition, params) selecting the rows of a started table that no range has masked
        yet: what a resumed run can still sample as original, and where it resumes ("after id 150").
        ("", {}, "") when nothing was masked yet."""
        pk = self.q(table.pk)
        with self.connection.cursor() as cursor:
            ranges = self._range_rows(table, cursor)
        if not ranges or all(done != DONE and last is None for _n, (last, done, *_r) in ranges):
            return "", {}, ""
        terms, params, where = [], {}, []
        for n, (_name, (last, done, _rows, _seconds, sample, _print)) in enumerate(ranges):
            if done == DONE:
                continue
            low, high = json.loads(sample)["range"]
            where.append(f"after {table.pk} {last}" if last is not None and last != low else "from the start")
            low = last if last is not None else low
            bounds = []
            if low is not None:
                bounds.append(f"{pk} > %(lo{n})s")
                params[f"lo{n}"] = self._pk(table, low)
            if high is not None:
                bounds.append(f"{pk} <= %(hi{n})s")
                params[f"hi{n}"] = self._pk(table, high)
            terms.append("(" + (" AND ".join(bounds) or "1 = 1") + ")")
        return "(" + (" OR ".join(terms) or "1 = 0") + ")", params, ", ".join(where)

    def _pk(self, table, text):
        """A primary key read back from the progress table or the sample, as the database takes it."""
        return table.pk_field.get_db_prep_value(table.pk_field.to_python(text), self.connection)

    def _batch_end(self, table, last, high=None, connection=None):
        """The primary key ending the next batch (the batch_size-th after `last`, at most `high`),
        None when the range is done."""
        q, pk = self.q, self.q(table.pk)
        where = [f"{pk} > %(lo)s"] * (last is not None) + [f"{pk} <= %(hi)s"] * (high is not None)
        where = f"WHERE {' AND '.join(where)} " if where else ""
        with (connection or self.connection).cursor() as cursor:
            cursor.execute(f"SELECT {pk} FROM {q(table.table)} {where}ORDER BY {pk} LIMIT 1 OFFSET {self.batch_size - 1}",
                           {"lo": last, "hi": high})
            row = cursor.fetchone()
            if row is None:
                cursor.execute(f"SELECT MAX({pk}) FROM {q(table.table)} {where}", {"lo": last, "hi": high})
                row = cursor.fetchone()
        return row[0] if row else None

    def _save(self, name, last, rows, started, done=False, cursor=None, connection=None):
        q = self.q
        sql = (f"UPDATE {q(PROGRESS_TABLE)} SET {q('last_pk')} = %(l)s, {q('rows_masked')} = %(r)s, "
               f"{q('seconds')} = %(s)s, {q('done')} = %(d)s WHERE {q('table_name')} = %(t)s")
        params = {"l": None if last is None else str(last), "r": rows, "s": round(time.monotonic() - started, 3),
                  "d": DONE if done else STARTED, "t": name}
        if cursor is not None:
            cursor.execute(sql, params)
        else:
            with (connection or self.connection).cursor() as own:
                own.execute(sql, params)

    # --- verification ------------------------------------------------------------------------------

    def verify(self, sample=None):
        """Check the masked database: {"ok", "checks", "failures", "sampled", "searched", ...}.

        Masking finished with these rules and this key; NULL / fixed / empty columns hold only that
        value; emails are at the safe domain; passwords unusable; unique columns still unique;
        truncated tables empty. Then the outcome checks of devdb.masking.outcome: with the `sample` of
        original values a run takes before masking, no sampled value is left in any text column, and
        row counts are unchanged; foreign keys are intact.
        """
        failures, checks = [], 0
        q = self.q
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT {q('fingerprint')} FROM {q(PROGRESS_TABLE)} WHERE {q('table_name')} = %(t)s",
                           {"t": RUN})
            run = cursor.fetchone()
            checks += 1
            if run and run[0] != self.run_print:
                failures.append("the database was masked with other rules or another key")
            for table in self.tables:
                name = q(table.table)
                checks += 1
                cursor.execute(f"SELECT {q('fingerprint')}, {q('done')} FROM {q(PROGRESS_TABLE)} "
                               f"WHERE {q('table_name')} = %(t)s", {"t": table.table})
                progress = cursor.fetchone()
                if not progress or progress[0] != self._table_print(table) or progress[1] != DONE:
                    failures.append(f"{table.table}: masking with these rules and this key did not finish")
                    continue
                if table.truncate:
                    checks += 1
                    cursor.execute(f"SELECT COUNT(*) FROM {name}")
                    if count := cursor.fetchone()[0]:
                        failures.append(f"{table.table}: {count} rows left in a truncated table")
                    continue
                columns, _key_params = self._columns(table)
                params = {}  # never the key's pads: Django's debug log shows every parameter
                for column, rule, _expr in columns:
                    col = column.sql
                    bad = None
                    if isinstance(rule, Null):
                        bad = f"{col} IS NOT NULL"
                    elif isinstance(rule, Json) and rule.constant:
                        bad = self.flavour.json_differs(col, "%(value)s")
                        params["value"] = rule.value
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
            found, more, details = outcome.check(self, sample, cursor)
        return {"ok": not failures and not found, "checks": checks + more, "failures": failures + found, **details}


def _spec_and_key(rules, key, dry_run=False):
    spec = rules_module.masking_spec() if rules is None else rules
    if not spec:
        raise ConfigError("DEVDB['MASKING'] is empty: there are no masking rules")
    if dry_run and not key and not os.environ.get(rules_module.KEY_ENV):
        key = "dry run without a key: its material is hidden"  # a dry run prints the SQL with the key material hidden: any key shows the same
    key = key if isinstance(key, Key) else (Key(key) if key else Key.from_env(os.environ))
    return spec, key


def default_workers():
    """DEVDB["MASKING_WORKERS"] (1 when DEVDB is not set)."""
    from django.conf import settings

    if not isinstance(getattr(settings, "DEVDB", None), dict):
        return 1
    from .. import conf

    return conf.get_settings(only={"MASKING_WORKERS"}).masking_workers


def mask_clone(database, rules=None, key=None, *, batch_size=BATCH_SIZE, dry_run=False, echo=None, workers=None):
    """Mask `database` (alias, URL or connection dict, see connection_for) with `rules`
    (default DEVDB["MASKING"]) and `key` (default $DEVDB_MASKING_KEY) on `workers` connections
    (default DEVDB["MASKING_WORKERS"]); return the verified MaskingReport (report.ok). Rerun after
    a kill, it finishes the job. A dry run only reads: report.sql lists the statements (key material
    hidden)."""
    spec, key = _spec_and_key(rules, key, dry_run)
    workers = default_workers() if workers is None else workers
    with connection_for(database, "masking") as alias:
        try:
            masking = Masking(alias, spec, key, batch_size, workers=workers)
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
