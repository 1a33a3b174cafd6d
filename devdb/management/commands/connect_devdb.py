from ... import conf, runner
from ...errors import ConfigError
from ..base import DevdbCommand, positive_int


class Command(DevdbCommand):
    help = "Promote usable clones to ready and point the stable name at the newest ready one (or at --to)."
    takes_many_targets = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--to", metavar="CLUSTER", help="roll back: connect this ready or aborted clone instead")
        parser.add_argument("--timeout", type=positive_int, metavar="SECONDS",
                            help="seconds a clone still being created may take to become ready (default READY_TIMEOUT)")

    def run(self, options):
        names = options["targets"]
        if options["to"] and not names and len(conf.get_settings().targets) > 1:
            raise ConfigError("--to needs a TARGET when several targets are configured")

        def connect(engine):
            engine.preflight()
            engine.lookup(also=[options["to"]] if options["to"] else ())
            engine.refuse_foreign_name(engine.name_value)
            if not options["to"]:
                engine.promote(options["timeout"])
            engine.connect(to=options["to"])

        return runner.run(names, connect, dry_run=options["dry_run"])
