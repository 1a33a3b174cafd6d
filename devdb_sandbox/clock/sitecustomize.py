"""Simulated days for the sandbox and end-to-end tests, without touching the app's code.

When DEVDB_SANDBOX_NOW is set (ISO-8601), this process's clock starts at that moment and ticks
on from there (time-machine). Put this folder on PYTHONPATH to use it.
"""

import os

_now = os.environ.get("DEVDB_SANDBOX_NOW")
if _now:
    import time_machine

    time_machine.travel(_now, tick=True).start()
