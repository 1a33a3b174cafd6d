"""What every *_devdb command shares: target arguments, one-line errors, SPEC exit statuses."""

import argparse
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from .. import conf, lifecycle
from ..errors import DevdbError, RunFailed
from ..output import verbosity

EXIT_STATUSES = {
    0: "done, or nothing to do",
    1: "failed (one line on stderr per failure)",
    2: "usage error (a bad option or an unknown TARGET)",
    3: "another run holds a target's lease, or took it over mid-run",
}


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer of seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer of seconds, got {text!r}")
    return value


def positive_int(text):
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive integer, got 0")
    return value


def configured_target(text):
    """A TARGET argument: an unknown one is a usage error (exit 2), caught before anything runs.

    With broken settings any name passes here: the command then reports the settings first.
    """
    if not conf.problems() and text not in (targets := conf.get_settings().targets):
        raise argparse.ArgumentTypeError(conf.unknown_target(text, targets))
    return text


class DevdbCommand(BaseCommand):
    """Subclasses set `help`, add their options, and implement run(options) -> (text, data)."""

    requires_system_checks = []  # bad settings are reported by the command itself, in one line
    takes_many_targets = True
    dry_run = True
    json_output = True  # False where the output is JSON anyway: --json would change nothing
    exit_statuses = EXIT_STATUSES

    def create_parser(self, prog_name, subcommand, **kwargs):
        statuses = "; ".join(f"{code} {meaning}" for code, meaning in self.exit_statuses.items())
        return super().create_parser(prog_name, subcommand, epilog=f"Exit status: {statuses}.", **kwargs)

    def add_arguments(self, parser):
        if self.takes_many_targets:
            parser.add_argument("targets", nargs="*", type=configured_target, metavar="TARGET",
                                help="configured target names (default: all)")
        else:
            parser.add_argument("targets", nargs="?", type=configured_target, metavar="TARGET",
                                help="a configured target name")
        if self.dry_run:
            parser.add_argument("--dry-run", action="store_true", help="print each AWS change it would make, make none")
        if self.json_output:
            parser.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")

    def execute(self, *args, **options):
        for line in conf.unknown_variables():  # a typo changes nothing: say so at run time too, not only in `check`
            self.stderr.write(f"{self._name()}: warning: {line}")
        try:
            with verbosity(options.get("verbosity", 1)):
                return super().execute(*args, **options)
        except DevdbError as exc:
            if options.get("traceback") or not getattr(self, "_called_from_command_line", False):
                raise CommandError(str(exc), returncode=exc.exit_code) from exc
            for line in str(exc).splitlines() or [""]:  # bad settings: every problem, one line each
                self.stderr.write(f"{self._name()}: error: {line}")
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, CommandError):
            raise
        except Exception as exc:  # one line, not a traceback, unless asked for
            if options.get("traceback") or not getattr(self, "_called_from_command_line", False):
                raise
            self.stderr.write(f"{self._name()}: error: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            sys.exit(1)

    def _name(self):
        return self.__module__.rsplit(".", 1)[-1]

    def handle(self, *args, **options):
        names = options["targets"]
        if isinstance(names, str):
            names = [names]
        options["targets"] = names or []
        try:
            result = self.run(options)
        except RunFailed as failed:
            self.show(failed.outcomes, options)
            raise
        self.show(result, options)

    def run(self, options):  # pragma: no cover - abstract
        """Do the work; return a list of engine Outcomes, or a dict (status) to show."""
        raise NotImplementedError

    def show(self, result, options):
        if options.get("json"):
            data = [o.as_dict() for o in result] if isinstance(result, list) else result
            self.stdout.write(json.dumps(data, indent=2, default=str))
        elif isinstance(result, list):
            self.stdout.write("\n".join(self.summary(o) for o in result))
        else:
            self.stdout.write(str(result))

    def summary(self, outcome):
        """Dry run: each change it would make. Otherwise one timestamped line (the log on stderr has
        the detail): what the run did, or, when it failed, the failure first and what it did before."""
        name = outcome.target
        if outcome.dry_run and outcome.actions:
            lines = [f"{name}: {action}" for action in outcome.actions]
            return "\n".join(lines + ([f"{name}: FAILED: {outcome.error}"] if outcome.error else []))
        facts = []
        if outcome.created:
            facts.append("created " + ", ".join(outcome.created))
        if outcome.deleted:
            facts.append("deleted " + ", ".join(outcome.deleted))
        if outcome.connected:
            facts.append(f"{outcome.connected} is connected")
        stamp = lifecycle.format_time(timezone.now())
        if outcome.error:
            done = f" (before failing: {'; '.join(facts)})" if facts and outcome.actions else ""
            return f"{stamp} {name}: FAILED: {outcome.error}{done}"
        return f"{stamp} {name}: " + "; ".join([f"{len(outcome.actions)} change(s)" if outcome.actions else "nothing to do", *facts])
