import json

from django.db import DEFAULT_DB_ALIAS, connections

from ...connections import one_line
from ...errors import ConfigError, DevdbError, Undecided
from ...flavours import FLAVOURS
from ...masking import gate, mask_clone
from ...masking.rules import masking_spec, problems
from ..base import EXIT_STATUSES, DevdbCommand, positive_int



class Command(DevdbCommand):
    exit_statuses = {0: EXIT_STATUSES[0], 1: "failed, or --check found a field without a masking decision",
                     2: EXIT_STATUSES[2]}  # takes no lease
    help = ("Mask a database with DEVDB['MASKING'] (--url or --database), print the SQL (--dry-run), "
            "check every project field has a rule (--check) or print starter rules (--suggest).")

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--url", help="the database to mask (or --check): mysql://USER:PASSWORD@HOST:PORT/NAME or postgres://...")
        where.add_argument("--database", metavar="ALIAS", help="the database to mask (or --check): an alias of DATABASES")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--check", action="store_true",
                          help="exit 1 listing every model field and every table / column of the database "
                               "(default: the 'default' alias) without a masking decision")
        what.add_argument("--suggest", action="store_true", help="print starter rules for the project's models")
        parser.add_argument("--dry-run", action="store_true", help="print the SQL it would run, change nothing")
        parser.add_argument("--batch-size", type=positive_int, default=20_000, metavar="N", help="rows per UPDATE (default 20000)")
        parser.add_argument("--workers", type=positive_int, metavar="N",
                            help="connections masking at once, each on its own primary-key range "
                                 "(default: DEVDB['MASKING_WORKERS'])")
        parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    def handle(self, *args, **options):
        if options["suggest"]:
            self.stdout.write(gate.render_suggestions())
            return
        spec = masking_spec()
        if found := problems(spec):
            raise ConfigError("; ".join(message for _id, message in found))
        if options["check"]:
            return self.check(spec, options["url"] or options["database"])
        database = options["url"] or options["database"]
        if not database:
            raise ConfigError("give the database to mask: --url URL or --database ALIAS")
        echo = (lambda text: self.stderr.write(f"mask_devdb: {text}")) if options["verbosity"] > 1 else None
        report = mask_clone(database, spec, batch_size=options["batch_size"], dry_run=options["dry_run"], echo=echo,
                            workers=options["workers"])
        if options["dry_run"]:
            self.stdout.write("\n".join(report.sql))
            return
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            for table in report.tables:
                done = "truncated" if table["truncated"] else f"{table['rows']} rows"
                self.stdout.write(f"{table['model']} ({table['table']}): {done} in {table['seconds']}s"
                                  + (f" [{table['resumed']}]" if table.get("resumed") else ""))
            verdict = report.verification
            self.stdout.write(f"rules {report.fingerprint}: {report.rows} rows in {report.seconds}s; verification "
                              f"{'passed' if verdict['ok'] else 'FAILED'} ({verdict['checks']} checks)")
            for line in verification_lines(verdict):
                self.stdout.write(f"  {line}")
            for failure in verdict["failures"]:
                self.stdout.write(f"  {failure}")
        if not report.ok:
            raise DevdbError("masking did not verify: " + "; ".join(report.verification["failures"]))

    def check(self, spec, database=None):
        """Model level, then the database itself (introspected): every table and column decided."""
        if not gate.masking_on():
            self.stdout.write("masking is off (DEVDB['MASKING'] is empty and no target has MASK): nothing to check")
            return
        missing = [f"{name}: no masking rule" for name in gate.undecided(spec)]
        alias = database or DEFAULT_DB_ALIAS
        if database is None and connections.settings.get(alias, {}).get("ENGINE", "").rsplit(".", 1)[-1] not in FLAVOURS:
            self.stdout.write(f"database level not checked: {alias!r} is not MySQL or PostgreSQL "
                              "(give --url or --database)")
        else:
            try:
                found = gate.check_database(alias, spec)
            except DevdbError:
                raise
            except Exception as exc:  # cannot read it: fail, one line, no password
                raise DevdbError(f"cannot read the database to check: {one_line(exc, _passwords(alias))}") from None
            missing += [f"{name}: no masking decision (in the database)" for name in found]
        if not missing:
            self.stdout.write("every model field and every table and column of the database has a masking decision")
            return
        for line in missing:
            self.stdout.write(line)
        raise Undecided(f"{len(missing)} field(s) / column(s) have no masking decision: add a rule or 'keep' for each "
                        "(python manage.py mask_devdb --suggest prints starter rules)")


def _passwords(database):
    from urllib.parse import unquote, urlsplit

    if isinstance(database, str) and "://" in database:
        return [unquote(urlsplit(database).password or "")]
    return [connections.settings.get(database, {}).get("PASSWORD") or ""]


def verification_lines(verdict):
    """What verification sampled (counts, never values) and searched, for people."""
    sampled, searched = verdict.get("sampled") or {}, verdict.get("searched") or {}
    lines = [f"sampled {sum(sampled.values())} original values (held in memory only) of {len(sampled)} masked "
             "column(s)" + (": " + ", ".join(f"{column} {count}" for column, count in sampled.items()) if sampled else "")]
    lines += verdict.get("sample_notes") or []
    tables = searched.get("in") or {}
    lines.append(f"searched {searched.get('columns', 0)} text column(s) of {searched.get('tables', 0)} table(s) for "
                 f"{searched.get('values', 0)} distinct values ({searched.get('substrings', 0)} also inside longer "
                 "text): " + "; ".join(f"{table} ({', '.join(columns)})" for table, columns in tables.items()))
    lines.append(f"row counts of {verdict.get('rows_counted', 0)} table(s) compared; "
                 f"{verdict.get('foreign_keys', 0)} foreign key(s) checked for orphans")
    return lines
