from ... import runner
from ..base import DevdbCommand, non_negative_int


def clean(grace):
    def step(engine):
        engine.preflight(source=False)
        engine.lookup()
        engine.clean(grace)
        engine.expire_branches()

    return step


class Command(DevdbCommand):
    help = ("Delete aborted clones whose state-since is older than the grace (never the one the name points at), "
            "and branches past their expiry with their CNAMEs.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--grace", type=non_negative_int, metavar="SECONDS",
                            help="seconds an aborted clone is kept before deletion (default CLEAN_GRACE)")

    def run(self, options):
        return runner.run(options["targets"], clean(options["grace"]), dry_run=options["dry_run"])
