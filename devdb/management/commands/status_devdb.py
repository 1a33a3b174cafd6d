from django.db import DatabaseError

from ... import lifecycle, runner
from ...models import recent_failures
from ..base import DevdbCommand


class Command(DevdbCommand):
    help = "Show each target's clones, their tags and AWS status, and where the stable name points."
    dry_run = False

    def run(self, options):
        reports = {}
        outcomes = runner.run(options["targets"], lambda engine: reports.update({engine.target.name: engine.status()}),
                              lock=False)
        # Targets run in threads: report them in the order they were named (or configured).
        ordered = [reports[o.target] for o in outcomes if o.target in reports]
        for report in ordered:
            report["failures"] = failures(report["target"])
        return {"targets": ordered}

    def show(self, result, options):
        if options["json"] or not isinstance(result, dict):
            return super().show(result, options)
        # Each target's block, then its failed clones from the records (AWS forgets them once deleted).
        self.stdout.write("\n\n".join("\n".join([render([report]), *failure_lines(report)]) for report in result["targets"]))


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
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
