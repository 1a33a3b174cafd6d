"""How commands talk: everything goes through the `devdb` logger, so LOGGING can route it.

On a TTY a long wait shows one live progress line; otherwise (cron) a wait is a few plain,
timestamped log lines: when it starts, whenever the AWS status changes, and every few minutes in
between. `-v 0` / `-v 2` set the logger's level for the command, whatever LOGGING says.
"""

import logging
import os
import shutil
import sys
from contextlib import contextmanager

logger = logging.getLogger("devdb")

LOG_EVERY = 300  # seconds between log lines of a wait whose status does not change
VERBOSITY_LEVELS = {0: logging.WARNING, 1: logging.INFO}  # 2 and 3: DEBUG


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def ensure_handler(verbosity=1):
    """Send `devdb` messages to stderr unless the project's LOGGING already routes them."""
    if logger.handlers or _configured_by_ancestor():
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@contextmanager
def verbosity(level):
    """For one command: -v 0 shows only warnings, -v 2 debug too; -v 1 keeps the configured level
    (LOGGING's, e.g. DEVDB_LOG_LEVEL in the example project). Restored afterwards."""
    ensure_handler()
    before = logger.level
    if level != 1:
        logger.setLevel(VERBOSITY_LEVELS.get(level, logging.DEBUG))
    try:
        yield
    finally:
        logger.setLevel(before)


def _configured_by_ancestor():
    return logger.propagate and logging.getLogger().handlers


class Reporter:
    """Progress and change messages for one target."""

    def __init__(self, target_name, stream=None, live=None):
        self.target = target_name
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._line_open = False
        self._wait = None  # the wait under way: what was last shown of it

    def info(self, message, *args):
        self._close_line()
        logger.info("[%s] " + message, self.target, *args)

    def warning(self, message, *args):
        self._close_line()
        logger.warning("[%s] " + message, self.target, *args)

    def progress(self, what, status, elapsed):
        """One poll of a wait. A wait whose first poll finds it done shows nothing."""
        if self._wait is None or self._wait["what"] != what:
            self._wait = {"what": what, "status": None, "at": None, "shown": False}
        wait = self._wait
        if self.live:
            if logger.isEnabledFor(logging.INFO):
                self._draw(what, status, elapsed)
                wait["shown"] = wait["shown"] or elapsed > 0
            return
        if elapsed <= 0 and wait["at"] is None:  # nothing waited for yet
            return
        if wait["at"] is None or status != wait["status"] or elapsed - wait["at"] >= LOG_EVERY:
            logger.info("[%s] waiting for %s: %s, %s elapsed", self.target, what, status, format_elapsed(elapsed))
            wait.update(status=status, at=elapsed, shown=True)

    def _draw(self, what, status, elapsed):
        # One terminal row (a wrapped line could not be overwritten by the next \r): the status and
        # the time elapsed are what the operator watches, so the "what" gives way first.
        head, tail = f"[{self.target}] waiting for ", f": {status}, {format_elapsed(elapsed)} elapsed"
        width = self._width() - 1
        if len(head) + len(what) + len(tail) > width:
            room = width - len(head) - len(tail) - 1
            what = what[:room] + "\u2026" if room >= 8 else what
        text = head + what + tail
        if len(text) > width:
            text = text[:max(1, width - 1)] + "\u2026"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._line_open = True

    def _width(self):
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns

    def done_waiting(self):
        if self.live and self._line_open and self._wait and not self._wait["shown"]:
            self.stream.write("\r\x1b[K")  # done at the first look: no "waiting ... 0s elapsed" left behind
            self.stream.flush()
            self._line_open = False
        self._wait = None
        self._close_line()

    def _close_line(self):
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False


def format_elapsed(seconds):
    """'42s', '3m 05s', '1h 02m 09s'."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
