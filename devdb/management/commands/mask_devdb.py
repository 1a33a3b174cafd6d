import json

from ...errors import ConfigError, DevdbError, Undecided
from ...masking import gate, mask_clone
from ...masking.rules import masking_spec, problems
from ..base import EXIT_STATUSES, DevdbCommand, positive_int



class Command(DevdbCommand):
    exit_statuses = {0: EXIT_STATUSES[0], 1: "failed, or --check found a field without a masking decision",
                     2: EXIT_STATUSES[2]}  # takes no lease
    help = ("Mask a database with DEVDB['MASKING'] (--url or --database), print the SQL (--dry-run), "
            "check every project field has a rule (--check) or print starter rules (--suggest).")

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--url", help="the database to mask: mysql://USER:PASSWORD@HOST:PORT/NAME or postgres://...")
        what.add_argument("--database", metavar="ALIAS", help="the database to mask: an alias of DATABASES")
        what.add_argument("--check", action="store_true", help="exit 1 if a project model field has no masking rule")
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
            return self.check(spec)
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
            for failure in verdict["failures"]:
                self.stdout.write(f"  {failure}")
        if not report.ok:
            raise DevdbError("masking did not verify: " + "; ".join(report.verification["failures"]))

    def check(self, spec):
        if not gate.masking_on():
            self.stdout.write("masking is off (DEVDB['MASKING'] is empty and no target has MASK): nothing to check")
            return
        missing = gate.undecided(spec)
        if not missing:
            self.stdout.write("every project model field has a masking decision")
            return
        for name in missing:
            self.stdout.write(f"{name}: no masking rule")
        raise Undecided(f"{len(missing)} field(s) have no masking decision: add a rule or 'keep' for each "
                        "(python manage.py mask_devdb --suggest prints starter rules)")
