"""How commands talk: everything goes through the `devdb` logger, so LOGGING can route it.

On a TTY a long wait shows one live progress line; otherwise (cron) each poll is a plain,
timestamped log line.
"""

import logging
import os
import shutil
import sys

logger = logging.getLogger("devdb")


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
    logger.setLevel(logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG)


def _configured_by_ancestor():
    return logger.propagate and logging.getLogger().handlers


class Reporter:
    """Progress and change messages for one target."""

    def __init__(self, target_name, stream=None, live=None):
        self.target = target_name
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._line_open = False

    def info(self, message, *args):
        self._close_line()
        logger.info("[%s] " + message, self.target, *args)

    def warning(self, message, *args):
        self._close_line()
        logger.warning("[%s] " + message, self.target, *args)

    def progress(self, what, status, elapsed):
        text = f"[{self.target}] waiting for {what}: {status}, {format_elapsed(elapsed)} elapsed"
        if self.live:
            # One terminal row: a wrapped line could not be overwritten by the next \r.
            width = self._width()
            if len(text) >= width:
                text = text[:max(1, width - 2)] + "\u2026"
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self._line_open = True
        else:
            logger.info(text)

    def _width(self):
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns

    def done_waiting(self):
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
