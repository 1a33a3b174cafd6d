from ... import runner
from ..base import DevdbCommand


def clone(engine):
    engine.preflight()
    engine.lookup()
    engine.clone()


class Command(DevdbCommand):
    help = "Create today's clone (cluster + writer instance), tagged created; or finish the one a killed run left."

    def run(self, options):
        return runner.run(options["targets"], clone, dry_run=options["dry_run"])
