import json

from ...errors import ConfigError, MigrationFailed
from ...output import logger
from ...rehearsal import rehearse
from ..base import DevdbCommand


class Command(DevdbCommand):
    help = ("Apply this code's unapplied migrations to the database at --url (it keeps them: give it a copy) and "
            "report each migration's time, SQL, rows of the tables it touches and error; exit 1 when one fails.")

    def add_arguments(self, parser):
        parser.add_argument("--url", help="the database to rehearse on: mysql://USER:PASSWORD@HOST:PORT/NAME or postgres://...")
        parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    def handle(self, *args, **options):
        if not options["url"]:
            raise ConfigError("give the database to rehearse on: --url URL")
        report = rehearse(options["url"], echo=lambda text: logger.info("rehearse_devdb: %s", text))
        self.stdout.write(json.dumps(report.as_dict(), indent=2) if options["json"] else report.render())
        if not report.ok:
            raise MigrationFailed(report.error, report)
