"""Rehearse this code's unapplied migrations on a copy: Django's own `migrate`, in a child process whose
default database is the copy.

What runs is exactly what `manage.py migrate` runs in production (history check, pre/post_migrate
signals, routers), in `python -m devdb.rehearsal_child` with the same settings module except DATABASES:
`default` is the copy and every other alias refuses to connect (devdb.rehearsal_settings). So RunPython
through a default manager, `django.db.connection` and signal receivers all reach the copy, never the
database of the process that asked; the copy's password travels in a 0600 file, never argv or the
environment. A copy that is this process's default database, the control database or a source
cluster's endpoint is refused before anything runs. The rehearsal only watches migrate. For each migration
in the plan it records, just before the migration is applied (the earlier ones are then in place): the
SQL `sqlmigrate` would print and the rows of the tables its operations name; then the wall time and,
when it fails, one line without the password. Like `migrate`, the first failure stops the run: the
later migrations are reported as not run. Whatever was applied stays applied (on MySQL, so does what
a failed migration's DDL did): rehearse on a copy.

Rows are exact (COUNT(*)) for tables whose catalog size is at most COUNT_LIMIT_BYTES and the catalog's
estimate otherwise, so measuring never scans a large table. RunSQL and RunPython name no table.
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields

from django.conf import settings
from django.core.management import call_command
from django.core.management.commands import migrate
from django.db import Error as DatabaseError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.models import ModelOperation

from . import conf, flavours
from . import connections as devdb_connections
from .connections import one_line
from .errors import ConfigError, MigrationFailed

COUNT_LIMIT_BYTES = 64 * 2**20
APPLIED, FAILED, NOT_RUN = "applied", "failed", "not run"
PROGRESS = "devdb-rehearsal: "  # the child's progress lines on stderr; any other output is migrate's own
LOOPBACK = {"", "localhost", "127.0.0.1", "::1"}


@dataclass
class MigrationRun:
    app: str
    name: str
    status: str = NOT_RUN
    seconds: float | None = None
    sql: list = field(default_factory=list)  # the statements, as sqlmigrate prints them
    tables: list = field(default_factory=list)  # {"table", "rows", "exact"}: exact is COUNT(*), else an estimate
    error: str | None = None

    @property
    def label(self):
        return f"{self.app}.{self.name}"


@dataclass
class RehearsalReport:
    database: str  # scheme://host:port/name, without credentials
    migrations: list = field(default_factory=list)  # MigrationRun, in the plan's order
    seconds: float = 0.0
    error: str | None = None  # the failing migration and its reason, or what stopped migrate before or after

    @property
    def ok(self):
        return self.error is None

    @property
    def failed(self):
        return next((run for run in self.migrations if run.status == FAILED), None)

    def count(self, status):
        return sum(1 for run in self.migrations if run.status == status)

    @property
    def outcome(self):
        """'applied' (every migration), 'nothing to apply' or 'failed'."""
        return "failed" if not self.ok else APPLIED if self.migrations else "nothing to apply"

    def as_dict(self):
        return {"database": self.database, "ok": self.ok, "outcome": self.outcome, "seconds": self.seconds,
                "error": self.error, "migrations": [{"migration": run.label, **asdict(run)} for run in self.migrations]}

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in fields(MigrationRun)}
        return cls(data["database"], [MigrationRun(**{k: v for k, v in run.items() if k in names})
                                      for run in data["migrations"]], data["seconds"], data["error"])

    def render(self):
        """The report for people: one block per migration, its SQL indented under it."""
        counts = ", ".join(f"{self.count(s)} {s}" for s in (APPLIED, FAILED, NOT_RUN) if self.count(s))
        nothing = "nothing to apply" if self.ok else "no migration listed"
        lines = [f"migrations rehearsed on {self.database}: {counts or nothing} in {self.seconds}s"]
        for run in self.migrations:
            took = f" in {run.seconds}s" if run.seconds is not None else ""
            lines.append(f"{run.status.upper() if run.status == FAILED else run.status:8} {run.label}{took}")
            lines += [f"    rows: {_rows_text(entry)}" for entry in run.tables]
            if run.error:
                lines.append(f"    error: {run.error}")
            lines += ["    " + line for statement in run.sql for line in statement.splitlines()]
        lines.append(f"FAILED: {self.error}" if self.error else
                     "OK: every migration applied" if self.migrations else "OK: nothing to apply")
        return "\n".join(lines)


def _rows_text(entry):
    if entry["rows"] is None:
        return f"{entry['table']}: unknown"
    return f"{entry['table']}: {entry['rows']}" + ("" if entry["exact"] else " (estimate)")


def rehearse(database, *, echo=None, sources=()):
    """Apply this code's unapplied migrations to `database` (a URL, or a dict with vendor or an Aurora
    engine, host, port, user, password, database) and return the RehearsalReport; a failing migration
    is in the report (report.ok is False), not raised. ConfigError for an unusable URL or dict, or for a
    database that must not be migrated (refusal(); `sources`: (what, host, port) of known source endpoints)."""
    if not isinstance(database, dict) and "://" not in str(database):
        raise ConfigError("a rehearsal needs a database URL or connection parameters, not a DATABASES alias")
    config = devdb_connections.django_settings(database)
    if reason := refusal(config, sources):
        raise ConfigError(f"refusing to migrate {address(config)}: it is {reason}; a rehearsal migrates a copy only")
    started = time.monotonic()
    report = _in_child(config, echo or (lambda text: None))
    report.seconds = round(time.monotonic() - started, 3)
    return report


def migrate_clone(database, *, echo=None, sources=()):
    """rehearse(), raising MigrationFailed (str(): the failing migration and its reason; .report) when
    the migrations did not all apply: for a readiness step that must not move a name onto the clone."""
    report = rehearse(database, echo=echo, sources=sources)
    if not report.ok:
        raise MigrationFailed(report.error, report)
    return report


def source_endpoints(cluster):
    """(what, host, port) of a source cluster's writer and reader endpoints, for rehearse(sources=...)."""
    if cluster is None:
        return []
    return [(f"the source cluster {cluster.id}'s {kind} endpoint", host, cluster.port)
            for kind, host in (("writer", cluster.endpoint), ("reader", cluster.reader_endpoint)) if host]


# --- what must never be migrated -------------------------------------------------------------------

def address(config):
    """scheme://host:port/name of a DATABASES entry, without credentials."""
    vendor = _vendor(config)
    scheme = flavours.for_vendor(vendor).schemes[0] if vendor else "db"
    return f"{scheme}://{config.get('HOST')}:{config.get('PORT')}/{config.get('NAME')}"


def _vendor(config):
    engine = str(config.get("ENGINE") or "")
    return "mysql" if "mysql" in engine else "postgresql" if "postg" in engine else None


def _host(host):
    host = str(host or "").strip().rstrip(".").lower()
    return "localhost" if host in LOOPBACK else host


def _port(config, vendor):
    return int(config.get("PORT") or flavours.for_vendor(vendor).default_port)


def _same(config, other):
    """Whether two DATABASES entries name the same database: vendor, host (any case), port and name."""
    vendor = _vendor(config)
    return (vendor is not None and vendor == _vendor(other) and _host(config.get("HOST")) == _host(other.get("HOST"))
            and _port(config, vendor) == _port(other, vendor) and str(config.get("NAME")) == str(other.get("NAME")))


def refusal(config, sources=()):
    """Why the DATABASES entry `config` must not be migrated by a rehearsal, or None: it is this process's
    default database, the control database, a known source endpoint, or the cluster endpoint of a
    configured SOURCE_CLUSTER (<id>.cluster-...: writer, reader, custom)."""
    control = conf.control_database()
    for alias, what in (("default", "this process's own default database (DATABASES['default'])"),
                        (control, f"the control database (DEVDB['DATABASE'] = {control!r})")):
        other = settings.DATABASES.get(alias)
        if other and _same(config, other):
            return what
    host, vendor = _host(config.get("HOST")), _vendor(config)
    for what, source_host, source_port in sources:
        if host == _host(source_host) and (not source_port or vendor is None or _port(config, vendor) == int(source_port)):
            return what
    labels = host.split(".")
    if len(labels) > 2 and labels[1].startswith("cluster-"):
        try:
            targets = conf.get_settings().targets.values()
        except Exception:  # broken DEVDB settings: the other checks still stand
            targets = ()
        for target in targets:
            if labels[0] == target.source_id:
                return f"an endpoint of the source cluster {target.source_id} (SOURCE_CLUSTER of target {target.name!r})"
    return None


# --- the child process -----------------------------------------------------------------------------

def settings_module():
    """The project's settings module, which the child process loads too."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or getattr(settings, "SETTINGS_MODULE", None)
    if not module:
        raise ConfigError("a rehearsal runs migrate in a child process with the project's settings module: "
                          "set DJANGO_SETTINGS_MODULE (settings.configure() has none)")
    return module


def _in_child(config, echo):
    """Run the rehearsal in `python -m devdb.rehearsal_child` with `config` as its default database."""
    database = address(config)
    password = str(config.get("PASSWORD") or "")
    module = settings_module()
    spec_fd, spec = tempfile.mkstemp(prefix="devdb-rehearsal-", suffix=".json")  # 0600
    report_fd, report_path = tempfile.mkstemp(prefix="devdb-rehearsal-", suffix=".report.json")
    os.close(report_fd)
    tail = []
    try:
        with os.fdopen(spec_fd, "w", encoding="utf-8") as file:
            json.dump({"database": config, "count_limit_bytes": COUNT_LIMIT_BYTES}, file)
        path = [entry for entry in sys.path if entry] + [os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "devdb.rehearsal_settings", "DEVDB_REHEARSAL_SETTINGS": module,
               "DEVDB_REHEARSAL_SPEC": spec, "DEVDB_REHEARSAL_REPORT": report_path, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, path))}
        echo(f"migrate runs in a child process whose default database is {database}")
        with subprocess.Popen([sys.executable, "-m", "devdb.rehearsal_child"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as child:
            try:
                for line in child.stdout:
                    line = one_line(line, [password])
                    if line.startswith(PROGRESS):
                        echo(line[len(PROGRESS):])
                    elif line.strip():
                        echo(f"migrate: {line}")
                        tail = (tail + [line])[-3:]
            except BaseException:
                child.kill()
                raise
        with open(report_path, encoding="utf-8") as file:
            text = file.read()
        if child.returncode == 0 and text:
            return RehearsalReport.from_dict(json.loads(text))
        last = tail[-1] if tail else "no output"
        return RehearsalReport(database, error=f"the migrate process exited {child.returncode} before its report: {last}")
    finally:
        for name in (spec, report_path):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass


class _Rehearsal:
    """One run of `migrate` on an alias (in the child: `default`), watched through its progress callback."""

    def __init__(self, alias, echo):
        self.alias = alias
        self.connection = connections[alias]
        self.flavour = flavours.for_vendor(self.connection.vendor)
        config = self.connection.settings_dict
        self.password = config.get("PASSWORD") or ""
        self.echo = echo
        self.report = RehearsalReport(f"{self.flavour.schemes[0]}://{config['HOST']}:{config['PORT']}/{config['NAME']}")
        self.executor = None  # made in run(): it reads the database
        self.runs = {}  # (app, name) -> MigrationRun
        self.running = None  # the MigrationRun applied right now
        self.started = 0.0

    def run(self):
        try:
            # A plan of our own (the same one migrate makes) names every migration, even those never reached.
            self.executor = MigrationExecutor(self.connection)
            plan = self.executor.migration_plan(self.executor.loader.graph.leaf_nodes())
            self.report.migrations = [MigrationRun(m.app_label, m.name) for m, _backwards in plan]
            self.runs = {(run.app, run.name): run for run in self.report.migrations}
            self.echo(f"{len(plan)} unapplied migration(s) on {self.report.database}")
            call_command(_Migrate(self), database=self.alias, interactive=False, verbosity=0)
        except Exception as exc:
            reason = self.reason(exc)
            if run := self.running:
                run.status, run.error = FAILED, reason
                run.seconds = round(time.monotonic() - self.started, 3)
                self.report.error = f"migration {run.label} failed: {reason}"
            elif any(run.status == APPLIED for run in self.report.migrations):
                self.report.error = f"migrate failed after the migrations: {reason}"
            else:
                self.report.error = f"migrate failed before any migration ran: {reason}"
            self.echo(self.report.error)
        return self.report

    def starting(self, migration):
        run = self.runs[(migration.app_label, migration.name)]
        state = self.executor.loader.project_state((migration.app_label, migration.name), at_end=False)
        run.tables = [entry for table in self.tables(migration, state) if (entry := self.rows(table))]
        run.sql = self.sql(migration, state)
        self.echo(f"applying {run.label}")
        self.running, self.started = run, time.monotonic()

    def applied(self, migration):
        run = self.runs[(migration.app_label, migration.name)]
        run.status, run.seconds = APPLIED, round(time.monotonic() - self.started, 3)
        self.running = None
        self.echo(f"applied {run.label} in {run.seconds}s")

    def tables(self, migration, state):
        """The existing tables the migration's operations name (a model being created has none yet)."""
        found = []
        for operation in migration.operations:
            model = getattr(operation, "model_name_lower", None)
            if model is None and isinstance(operation, ModelOperation):
                model = operation.name_lower
            if model and (migration.app_label, model) in state.models:
                table = state.apps.get_model(migration.app_label, model)._meta.db_table
                if table not in found:
                    found.append(table)
        return found

    def rows(self, table):
        """{"table", "rows", "exact"} of a table, None when the database has no such table (a router
        kept it elsewhere)."""
        entry = {"table": table, "rows": None, "exact": False}
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(self.flavour.table_size_sql(), {"table": table})
                if (found := cursor.fetchone()) is None:
                    return None
                estimate, size = found
                if size is not None and size <= COUNT_LIMIT_BYTES:
                    cursor.execute(f"SELECT COUNT(*) FROM {self.flavour.quote(table)}")
                    entry.update(rows=cursor.fetchone()[0], exact=True)
                elif estimate is not None:
                    entry.update(rows=int(estimate))
        except DatabaseError as exc:  # measuring is a courtesy: the migration itself will tell
            self.echo(f"rows of {table} unknown: {self.reason(exc)}")
        return entry

    def sql(self, migration, state):
        """What sqlmigrate prints (MigrationExecutor.collect_sql), from the state before the migration."""
        try:
            with self.connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                migration.apply(state, editor, collect_sql=True)
        except Exception as exc:
            return [f"-- the SQL could not be collected: {self.reason(exc)}"]
        return list(editor.collected_sql)

    def reason(self, exc):
        """One line: a database error as its flavour describes it (kind, code, message), else the exception."""
        if isinstance(exc, DatabaseError) and exc.__cause__ is not None:
            return one_line(self.flavour.describe(exc.__cause__, self.password), [self.password])
        return one_line(f"{type(exc).__name__}: {exc}", [self.password])


class _Migrate(migrate.Command):
    """Django's migrate, telling the rehearsal when each migration starts and when it is applied."""

    def __init__(self, rehearsal):
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self.rehearsal = rehearsal

    def migration_progress_callback(self, action, migration=None, fake=False):
        if action == "apply_start":
            self.rehearsal.starting(migration)
        elif action == "apply_success":
            self.rehearsal.applied(migration)
