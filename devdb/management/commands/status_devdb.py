import argparse

from django.db import DatabaseError

from ... import history, lifecycle, runner
from ...errors import CheckFailed
from ...models import recent_failures
from ..base import EXIT_STATUSES, DevdbCommand

DEFAULT_MAX_AGE = 26  # hours: a daily refresh plus two hours of slack



def hours(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number of hours, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of hours, got {text!r}")
    return value


def check(engine, report, max_age):
    """The problems a monitor should alert on, one line each: no live clone, a live clone older than
    max_age hours, or a failed clone not yet made good (the newest of report["failures"]: aborted
    before it was ever ready, since the stable name last moved)."""
    name, found = engine.target.name, []
    live = engine.clones.get(report["points_at_clone"]) if report["points_at_clone"] else None
    if live is None:
        found.append(f"{name}: {report['record_name']} points at no clone of this target "
                     f"({report['points_at'] or 'no record'})")
    elif created := _created(live):
        age = (engine.now() - created).total_seconds() / 3600
        if age > max_age:
            found.append(f"{name}: the live clone {live.id} is {age:.0f}h old (more than {max_age:g}h)")
    if report.get("failures"):
        newest = report["failures"][0]
        found.append(f"{name}: the newest clone {newest['cluster']} failed: {newest['error'] or 'aborted before it was ready'}")
    elif report.get("failures") is None:
        found.append(f"{name}: the control database cannot be read, so failed runs cannot be checked")
    return found


def _created(cluster):
    """When the clone was made: as recorded by the run that made it, else as AWS reports it."""
    try:
        record = history.find(cluster.id)
    except DatabaseError:
        record = None
    return record.created_at if record else cluster.created


class Command(DevdbCommand):
    help = ("Show each target's clones, their tags and AWS status, and where the stable name points. "
            "With --check, a monitoring probe: one line per problem, exit 1 if any.")
    dry_run = False
    exit_statuses = {0: EXIT_STATUSES[0], 1: "failed, or --check found a problem (one line each on stdout)",
                     2: EXIT_STATUSES[2]}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--check", action="store_true",
                            help="exit 1 when a target has no live clone, its live clone is older than --max-age, "
                                 "or its newest clone failed")
        parser.add_argument("--max-age", type=hours, default=DEFAULT_MAX_AGE, metavar="HOURS",
                            help=f"with --check: the oldest a live clone may be (default {DEFAULT_MAX_AGE})")

    def run(self, options):
        reports, problems = {}, {}

        def status(engine):
            report = engine.status()
            report["failures"] = failures(engine.target.name)
            reports[engine.target.name] = report
            if options["check"]:
                problems[engine.target.name] = check(engine, report, options["max_age"])

        outcomes = runner.run(options["targets"], status, lock=False)
        # Targets run in threads: report them in the order they were named (or configured).
        order = [o.target for o in outcomes if o.target in reports]
        result = {"targets": [reports[name] for name in order]}
        if options["check"]:
            result["problems"] = self.problems = [line for name in order for line in problems[name]]
        return result

    def handle(self, *args, **options):
        self.problems = []
        super().handle(*args, **options)
        if self.problems:
            raise CheckFailed(f"--check found {len(self.problems)} problem(s), listed on stdout")

    def show(self, result, options):
        if options["json"] or not isinstance(result, dict):
            return super().show(result, options)
        if "problems" in result:
            ok = [f"{r['target']}: ok, {r['points_at_clone']} is live" for r in result["targets"]
                  if not any(line.startswith(f"{r['target']}: ") for line in result["problems"])]
            self.stdout.write("\n".join(result["problems"] + ok))
            return
        # Each target's block, then its failed clones from the records (AWS forgets them once deleted).
        self.stdout.write("\n\n".join("\n".join([render([report]), *failure_lines(report),
                                                  *([f"note: {report['note']}"] if report.get("note") else [])])
                                        for report in result["targets"]))


def failures(target):
    """The target's failed clones not yet made good, from the clone records (AWS forgets them once deleted);
    None when the control database cannot be read (status itself needs only AWS)."""
    try:
        return [{"cluster": r.cluster_id, "aborted": lifecycle.format_time(r.aborted_at or r.state_since),
                 "state": r.state, "error": (r.last_error.strip().splitlines() or [""])[0]}
                for r in recent_failures(target)]
    except DatabaseError:
        return None


def failure_lines(report):
    return [f"  failed: {failure['cluster']} aborted {failure['aborted']} before it was ready"
            f"{' (deleted since)' if failure['state'] == lifecycle.DELETED else ''}: {failure['error']}"
            for failure in report.get("failures") or ()]


def render(reports):
    blocks = []
    for report in reports:
        pointed = report["points_at_clone"] or (report["points_at"] or "nothing")
        lines = [f"target {report['target']}: {report['record_name']} -> {pointed}"]
        rows = [("CLONE", "STATE", "SINCE", "AWS STATUS", "INSTANCES", "")]
        for clone in report["clones"]:
            instances = ", ".join(f"{i['id']} {i['status']}" for i in clone["instances"]) or "-"
            rows.append((clone["cluster"], clone["state"], clone["state_since"], clone["status"], instances,
                         "<- live" if clone["live"] else ""))
        if len(rows) == 1:
            lines.append("  no clones")
        else:
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            # Whether each clone is configured like its source (security groups, parameter groups, port...).
            lines.extend(f"  {clone['cluster']}: {clone['parity']}" for clone in report["clones"] if clone.get("parity"))
        for entry in report.get("branches") or ():
            lines.append(f"  branch {entry['branch']}: {entry['host']} -> {entry['cluster']} {entry['state']}, "
                         f"expires {entry['expires_at'] or 'never'}" + (f", owner {entry['owner']}" if entry["owner"] else "")
                         + ("" if entry.get("cname") or entry["state"] != "connected" else " (its CNAME is gone)"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
