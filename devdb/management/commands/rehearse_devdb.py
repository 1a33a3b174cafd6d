import json

from ... import conf, probes, runner
from ...engine.waiting import Clock
from ...connections import one_line
from ...errors import ConfigError, DevdbError, MigrationFailed
from ...output import logger
from ...rehearsal import rehearse, source_endpoints
from ..base import DevdbCommand, configured_target
from .branch_devdb import default_owner

# A crash between create and delete leaves a branch that clean_devdb/refresh_devdb remove soon.
REHEARSAL_TTL = "2h"


def branch_name(now):
    """A fresh branch NAME per run (24 characters: within BRANCH_NAME_MAX)."""
    return f"rehearse-{now:%Y%m%d-%H%M%S}"


class Command(DevdbCommand):
    help = ("Apply this code's unapplied migrations to a short-lived branch of the target's source (or to the "
            "database at --url: it keeps them, give it a copy) and report each migration's time, SQL, rows of the "
            "tables it touches and error; the branch is deleted unless --keep; exit 1 when a migration fails.")

    def add_arguments(self, parser):
        parser.add_argument("--target", type=configured_target, metavar="T",
                            help="the target whose source the branch clones (needed when several are configured)")
        parser.add_argument("--keep", action="store_true", help="keep the branch afterwards (it expires in "
                            f"{REHEARSAL_TTL}) and print its host")
        parser.add_argument("--url", help="rehearse on this database instead of a branch: "
                            "mysql://USER:PASSWORD@HOST:PORT/NAME or postgres://...")
        parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    def handle(self, *args, **options):
        echo = lambda text: logger.info("rehearse_devdb: %s", text)  # noqa: E731
        if options["url"]:
            if options["target"] or options["keep"]:
                raise ConfigError("--url rehearses on a database of yours: --target and --keep are for a branch")
            report, branch = rehearse(options["url"], echo=echo), None
        else:
            report, branch = self.on_branch(options["target"], options["keep"], echo)
        if options["json"]:
            self.stdout.write(json.dumps({**report.as_dict(), **({"branch": branch} if branch else {})}, indent=2))
        else:
            self.stdout.write(report.render())
            if branch:
                self.stdout.write(fate_text(branch))
        if not report.ok:
            raise MigrationFailed(report.error, report)
        if branch and branch["fate"].startswith("not deleted"):
            raise DevdbError(f"branch {branch['branch']} {branch['fate']}")

    def on_branch(self, target, keep, echo):
        """Create a branch, wait until it is connected, rehearse on it with the app's login (DATABASES['default']
        user, password and name; the clone's endpoint, port and engine), delete it unless keep. The branch's
        describe() gets its fate: "kept", "deleted" or "not deleted: <why>"."""
        names = [target] if target else list(conf.get_settings().targets)
        if len(names) != 1:
            raise ConfigError(f"--target: give one of {', '.join(sorted(names))}")
        done = {}

        def step(branch):
            try:
                done["branch"] = branch.create(REHEARSAL_TTL, default_owner(), wait=True)
                cluster = branch.newest()
                credentials = probes.app_credentials(port=cluster.port, engine=cluster.engine)
                done["report"] = rehearse({"engine": cluster.engine, "host": cluster.endpoint, **credentials}, echo=echo,
                                          sources=source_endpoints(branch._source))
            finally:
                if keep:
                    if "branch" in done:
                        done["branch"]["fate"] = "kept"
                elif branch.clones:  # a failed create may have left a clone
                    shown = done.get("branch") or {"branch": branch.branch, "expires_at": None}
                    later = f"clean_devdb removes it after it expires ({shown.get('expires_at') or 'in ' + REHEARSAL_TTL})"
                    try:
                        shown = branch.delete()
                    except Exception as exc:  # the report stands; the branch expires
                        done["branch"] = {**shown, "fate": f"not deleted: {one_line(exc)}; {later}"}
                        if "report" not in done:
                            raise
                    else:  # clean() skips, with a warning, a clone it must not delete now (e.g. stopped)
                        left = sorted(branch.clones)
                        if left:
                            shown["state"] = branch.state(branch.clones[left[-1]])
                        done["branch"] = {**shown, "fate": f"not deleted: {', '.join(left)} still there; {later}"
                                          if left else "deleted"}

        runner.run(names, step, branch=branch_name(Clock().now()))
        return done["report"], done["branch"]


def fate_text(branch):
    """One line: what became of the branch."""
    if branch["fate"] == "kept":
        return (f"branch {branch['branch']} kept: {branch['host']}:{branch['port']} ({branch['cluster']}), "
                f"expires {branch['expires_at']}")
    return f"branch {branch['branch']} {branch['fate']}"
