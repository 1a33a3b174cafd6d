from ... import runner
from ..base import DevdbCommand, non_negative_int, positive_int


class Command(DevdbCommand):
    help = "The daily job: clone -> wait until ready -> connect -> wait out the grace -> clean."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--grace", type=non_negative_int, metavar="SECONDS",
                            help="seconds an aborted clone is kept before deletion (default CLEAN_GRACE)")
        parser.add_argument("--timeout", type=positive_int, metavar="SECONDS",
                            help="seconds the clone may take to become ready (default READY_TIMEOUT)")
        parser.add_argument("--parallel", type=positive_int, metavar="N",
                            help="targets run at once (default min(4, number of targets))")

    def run(self, options):
        return runner.run(
            options["targets"],
            lambda engine: engine.refresh(grace=options["grace"], timeout=options["timeout"]),
            dry_run=options["dry_run"],
            parallel=options["parallel"],
            pings=True,
        )
