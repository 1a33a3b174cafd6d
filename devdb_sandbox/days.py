"""`python -m devdb_sandbox at WHEN COMMAND...`: run COMMAND with its clock moved to WHEN, to try tomorrow's refresh now.

WHEN is an ISO-8601 UTC time (`2026-11-23T05:00:00Z`) or an offset from now (`+1d`, `+12h`, `+90m`). The
command's Python processes start at that moment and tick on from there: the clock shim (clock/sitecustomize.py,
time-machine) is put on PYTHONPATH and DEVDB_SANDBOX_NOW is set. Only the command's clock moves; the sandbox's
AWS keeps its own.
"""

import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

CLOCK_DIR = Path(__file__).resolve().parent / "clock"
UNITS = {"m": 60, "h": 3600, "d": 86400}


def moment(text, now=None):
    """WHEN as an ISO-8601 UTC string, or ValueError."""
    offset = re.fullmatch(r"\+(\d+)([mhd])", text.strip())
    if offset:
        when = (now or datetime.now(timezone.utc)) + timedelta(seconds=int(offset[1]) * UNITS[offset[2]])
    else:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError("give a UTC time with its Z (or +00:00)")
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_env(when, environ=None):
    """The environment of a process whose clock starts at `when` (ISO-8601)."""
    env = dict(os.environ if environ is None else environ)
    env["DEVDB_SANDBOX_NOW"] = when
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCK_DIR), env.get("PYTHONPATH", "")]))
    return env


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        sys.exit(__doc__.strip() if argv[:1] in (["-h"], ["--help"]) else
                 "usage: python -m devdb_sandbox at WHEN COMMAND... (WHEN: 2026-11-23T05:00:00Z, +1d, +12h, +90m)")
    try:
        when = moment(argv[0])
    except ValueError as exc:
        sys.exit(f"python -m devdb_sandbox at: WHEN must be an ISO-8601 UTC time or +1d / +12h / +90m (got {argv[0]!r}: {exc})")
    command = argv[1:]
    os.execvpe(command[0], command, clock_env(when))
