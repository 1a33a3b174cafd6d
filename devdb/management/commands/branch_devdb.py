import argparse
import getpass
import json

from ... import conf, lifecycle, runner, validators
from ...errors import ConfigError, Invalid
from ..base import DevdbCommand, configured_target


def branch_name(text):
    if problem := lifecycle.branch_name_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def duration(text):
    try:
        validators.duration(text)
    except Invalid as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def default_owner():
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without one): the owner stays blank
        return ""


class Command(DevdbCommand):
    help = ("On-demand clones of a target's source with their own DNS name and an expiry: "
            "create NAME, list, extend NAME, delete NAME.")

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="make branch NAME and wait until its name answers")
        create.add_argument("name", type=branch_name, metavar="NAME")
        create.add_argument("--ttl", type=duration, metavar="DURATION", help="lifetime: 90m, 12h, 3d (default BRANCH_TTL)")
        create.add_argument("--owner", default=None, metavar="TEXT", help="who it is for (default: the login name)")
        create.add_argument("--reset", action="store_true", help="replace an existing branch by a fresh clone")
        create.add_argument("--no-wait", action="store_true", help="return once the clone is requested")
        actions.add_parser("list", help="the branches, their hosts and expiry")
        extend = actions.add_parser("extend", help="add --ttl to NAME's expiry (to now if it has passed); never "
                                                   "shortens it; at most BRANCH_MAX_TTL from now")
        extend.add_argument("name", type=branch_name, metavar="NAME")
        extend.add_argument("--ttl", type=duration, metavar="DURATION", required=True)
        delete = actions.add_parser("delete", help="delete NAME's CNAME and clones")
        delete.add_argument("name", type=branch_name, metavar="NAME")
        delete.add_argument("--missing-ok", action="store_true",
                            help="a branch that is already gone (expired or deleted) is no error: exit 0 with a line")
        for action in actions.choices.values():
            self.add_common_options(action)
            action.add_argument("--target", type=configured_target, metavar="T",
                                help="the target (needed when several are configured)")
            action.add_argument("--dry-run", action="store_true", help="print each AWS change it would make, make none")
            action.add_argument("--json", action="store_true", help="print the branch(es) as JSON on stdout")

    def run(self, options):
        action, shown = options["action"], []
        names = [options["target"]] if options["target"] else []
        if action != "list" and not names:
            targets = conf.get_settings().targets
            if len(targets) != 1:
                raise ConfigError(f"--target: give one of {', '.join(sorted(targets))}")
            names = list(targets)
        if action == "list":
            def listing(engine):
                engine.lookup()
                shown.extend(engine.list_branches())

            runner.run(names, listing, dry_run=options["dry_run"], lock=False)
            return shown
        steps = {
            "create": lambda b: b.create(options["ttl"], default_owner() if options["owner"] is None else options["owner"],
                                         reset=options["reset"], wait=not options["no_wait"]),
            "extend": lambda b: b.extend(options["ttl"]),
            "delete": lambda b: b.delete(missing_ok=options["missing_ok"]),
        }
        runner.run(names, lambda branch: shown.append(steps[action](branch)), dry_run=options["dry_run"],
                   branch=options["name"])
        return shown[0]

    @staticmethod
    def add_common_options(parser):
        """Django's own options (-v, --settings, --traceback...) are also accepted after the action word;
        SUPPRESS keeps the value given before it when they are not repeated."""
        parser.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=argparse.SUPPRESS,
                            help="0 = minimal output, 1 = normal, 2 = verbose, 3 = very verbose")
        parser.add_argument("--settings", default=argparse.SUPPRESS, help="a settings module, e.g. myproject.settings")
        parser.add_argument("--pythonpath", default=argparse.SUPPRESS, help="a directory to add to the Python path")
        for flag in ("--traceback", "--no-color", "--force-color"):
            parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        self.show(self.run(options), options)  # a failure: one line on stderr (DevdbCommand.execute)

    def show(self, result, options):
        if options.get("json"):
            self.stdout.write(json.dumps(result, indent=2))
            return
        for entry in result if isinstance(result, list) else [result]:
            if entry["state"] == "missing":
                self.stdout.write(f"{entry['target']}/{entry['branch']}: no such branch (expired or deleted already): "
                                  "nothing to delete")
                continue
            self.stdout.write(f"{entry['target']}/{entry['branch']}: {entry['host']}:{entry['port'] or '-'} "
                              f"{entry['state']} ({entry['cluster']}), expires {entry['expires_at'] or 'never'}"
                              + (f", owner {entry['owner']}" if entry["owner"] else ""))
