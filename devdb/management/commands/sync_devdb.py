from ... import runner
from ..base import DevdbCommand


class Command(DevdbCommand):
    help = "Reconcile the CloneRecords with the tags in AWS (clusters deleted by hand become deleted)."

    def run(self, options):
        return runner.run(options["targets"], lambda engine: engine.sync(), dry_run=options["dry_run"])
