"""How commands talk: a live progress line on a TTY, timestamped `devdb` log lines otherwise; --json everywhere."""

import io
import logging
import pkgutil
import re
from datetime import timedelta

import pytest
from django.core.management import load_command_class
from django.core.management.base import CommandError

from devdb import output
from devdb.engine import Engine
from devdb.output import Reporter, format_elapsed


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class Checks:
    """check() for Engine._wait: `pending` polls of `status`, then done."""

    def __init__(self, pending, status="writer creating"):
        self.pending, self.status, self.calls = pending, status, 0

    def __call__(self):
        self.calls += 1
        if self.calls > self.pending:
            return True, "available"
        return False, self.status


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def test_tty_progress_is_one_line_overwritten_then_closed(wide, caplog):
    stream = FakeTTY()
    reporter = Reporter("dev", stream=stream)
    assert reporter.live
    caplog.set_level(logging.INFO, logger="devdb")
    reporter.progress("dev-20261122 to be available", "writer creating", 5)
    reporter.progress("dev-20261122 to be available", "writer creating", 65.4)
    reporter.progress("dev-20261122 to be available", "writer available", 3725)
    assert "\n" not in stream.getvalue()
    reporter.done_waiting()
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    updates = text.rstrip("\n").split("\r")[1:]
    assert [u.replace("\x1b[K", "") for u in updates] == [
        "[dev] waiting for dev-20261122 to be available: writer creating, 5s elapsed",
        "[dev] waiting for dev-20261122 to be available: writer creating, 1m 05s elapsed",
        "[dev] waiting for dev-20261122 to be available: writer available, 1h 02m 05s elapsed",
    ]
    assert all(u.startswith("\x1b[K") for u in updates)  # each update clears the rest of the row
    assert not [r for r in caplog.records if "waiting for" in r.getMessage()]  # not logged as well
    reporter.done_waiting()
    assert stream.getvalue() == text  # closing twice adds nothing


def test_a_message_during_a_wait_starts_on_its_own_line(wide, caplog):
    stream = FakeTTY()
    reporter = Reporter("dev", stream=stream)
    caplog.set_level(logging.INFO, logger="devdb")
    reporter.progress("the grace of 120s", "until 05:14", 10)
    reporter.info("tag %s aborted", "dev-20261121")
    assert stream.getvalue().endswith("\n")
    assert "[dev] tag dev-20261121 aborted" in caplog.messages


def test_tty_progress_never_wraps(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="devdb")
    monkeypatch.setenv("COLUMNS", "40")
    stream = FakeTTY()
    Reporter("dev", stream=stream).progress("dev-20261122 to be available", "writer creating", 5)
    line = stream.getvalue().split("\r")[-1].replace("\x1b[K", "")
    assert len(line) < 40 and line.endswith("\u2026")


def test_not_a_tty_each_poll_is_a_devdb_log_line(caplog):
    stream = io.StringIO()
    reporter = Reporter("dev", stream=stream)
    assert not reporter.live
    caplog.set_level(logging.INFO, logger="devdb")
    reporter.progress("dev-20261122 to be available", "writer creating", 5)
    reporter.progress("dev-20261122 to be available", "writer available", 95)
    reporter.done_waiting()
    assert stream.getvalue() == ""
    records = [r for r in caplog.records if r.name == "devdb"]
    assert [r.getMessage() for r in records] == [
        "[dev] waiting for dev-20261122 to be available: writer creating, 5s elapsed",
        "[dev] waiting for dev-20261122 to be available: writer available, 1m 35s elapsed",
    ]
    assert all(r.levelno == logging.INFO for r in records)


def test_a_wait_logs_when_the_status_changes_and_every_few_minutes_not_every_poll(caplog):
    reporter = Reporter("dev", stream=io.StringIO())
    caplog.set_level(logging.INFO, logger="devdb")
    polls = [(0, "creating"), *((t, "creating") for t in range(30, 700, 30)), (720, "backing-up"), (750, "available")]
    for elapsed, status in polls:
        reporter.progress("dev-20261122 to be available", status, elapsed)
    reporter.done_waiting()
    assert [m.split(": ", 1)[1] for m in caplog.messages] == [
        "creating, 30s elapsed",      # the wait began
        "creating, 5m 30s elapsed",   # no change: one line every LOG_EVERY seconds
        "creating, 10m 30s elapsed",
        "backing-up, 12m 00s elapsed",  # each change of the AWS status at once
        "available, 12m 30s elapsed",
    ]
    assert output.LOG_EVERY == 300


def test_a_wait_done_at_the_first_look_shows_nothing(caplog, wide):
    caplog.set_level(logging.INFO, logger="devdb")
    reporter = Reporter("dev", stream=io.StringIO())
    reporter.progress("db.dev.example.com change C1 to be INSYNC", "INSYNC", 0)
    reporter.done_waiting()
    assert not [m for m in caplog.messages if "waiting for" in m]
    stream = FakeTTY()
    reporter = Reporter("dev", stream=stream)
    reporter.progress("db.dev.example.com change C1 to be INSYNC", "INSYNC", 0)
    reporter.done_waiting()
    reporter.info("tag dev-20261122 connected")
    assert "\n" not in stream.getvalue() and stream.getvalue().endswith("\r\x1b[K")  # drawn, then wiped


def test_an_80_column_live_line_keeps_the_status_and_the_time_elapsed(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="devdb")
    monkeypatch.setenv("COLUMNS", "80")
    stream = FakeTTY()
    Reporter("dev", stream=stream).progress("the grace of 120s (clients to drop the old address)",
                                            "until 2026-11-22T05:14:00Z", 65)
    line = stream.getvalue().split("\r")[-1].replace("\x1b[K", "")
    assert len(line) < 80
    assert line.startswith("[dev] waiting for the grace of 1")
    assert line.endswith("\u2026: until 2026-11-22T05:14:00Z, 1m 05s elapsed")


def test_verbosity_0_silences_the_live_line_too(wide, monkeypatch):
    monkeypatch.setattr(output.logger, "level", logging.INFO)
    stream = FakeTTY()
    with output.verbosity(0):
        Reporter("dev", stream=stream).progress("dev-20261122 to be available", "creating", 5)
    assert stream.getvalue() == ""
    assert output.logger.level == logging.INFO  # restored after the command


def test_fallback_handler_lines_are_timestamped(monkeypatch, capsys):
    logger = logging.getLogger("devdb")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", False)
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    output.ensure_handler(verbosity=1)
    Reporter("dev", stream=io.StringIO()).progress("dev-20261122 to be available", "writer creating", 5)
    err = capsys.readouterr().err
    assert err.strip(), "nothing logged"
    # 2026-11-22T05:00:05+0000 INFO [dev] waiting for ...
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} INFO \[dev\] waiting for dev-20261122", err)


def test_an_engine_wait_on_a_tty_shows_one_live_line(wide, clock, settings):
    from devdb import conf
    from tests.conftest import target_settings

    settings.DEVDB = {"DATABASE": "devdb", "TARGETS": {"dev": target_settings("Z0123456789ABC")},
                      "POLL_INITIAL": 5, "POLL_MAX": 30}
    cfg = conf.get_settings()
    stream = FakeTTY()
    engine = Engine(cfg.targets["dev"], gateway=None, settings=cfg, clock=clock, reporter=Reporter("dev", stream=stream))
    check = Checks(pending=6)
    assert engine._wait("dev-20261122 to be available", check, clock.now() + timedelta(hours=1)) == "available"
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r") == 7
    assert "writer creating, 0s elapsed" in text and "available, " in text.split("\r")[-1]


def test_format_elapsed():
    assert [format_elapsed(s) for s in (0, 4.6, 59, 60, 905, 3600, 3725)] == [
        "0s", "4s", "59s", "1m 00s", "15m 05s", "1h 00m 00s", "1h 02m 05s"]


def devdb_commands():
    import devdb.management.commands as package

    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.endswith("_devdb"))


def test_the_commands_are_all_there():
    assert {"refresh_devdb", "clone_devdb", "connect_devdb", "clean_devdb", "status_devdb", "sync_devdb"} <= set(devdb_commands())


JSON_ANYWAY = {"iam_policy_devdb"}  # prints JSON whatever the options: --json would change nothing
LEADING = {"branch_devdb": ["list"]}  # a command with actions takes --json after its action


@pytest.mark.parametrize("name", devdb_commands())
def test_json_is_accepted_only_where_it_changes_the_output(name):
    command = load_command_class("devdb", name)
    parser = command.create_parser("manage.py", name)
    if name in JSON_ANYWAY:
        assert "--json" not in parser.format_help()
        with pytest.raises((SystemExit, CommandError)):
            parser.parse_args(["--json"])
        return
    leading = LEADING.get(name, [])
    assert parser.parse_args([*leading, "--json"]).json is True
    assert parser.parse_args(leading).json is False
    if not leading:  # (an action's own --help lists it)
        assert "--json" in parser.format_help()


@pytest.mark.parametrize("name", devdb_commands())
def test_help_names_units_and_lists_the_exit_statuses(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    command = load_command_class("devdb", name)
    text = " ".join(command.create_parser("manage.py", name).format_help().split())
    assert "Exit status: 0 done, or nothing to do; 1 " in text
    assert "2 usage error" in text
    assert ("3 another run holds a target's lease" in text) == (name not in ("iam_policy_devdb", "status_devdb", "mask_devdb"))
    for option, unit in (("--grace", "SECONDS"), ("--timeout", "SECONDS"), ("--parallel", "N"), ("--max-age", "HOURS"),
                         ("--batch-size", "N")):
        if option in text:
            assert f"{option} {unit}" in text, (option, text)


def test_the_readme_says_which_command_takes_which_option():
    """The README's option table (Commands) matches the parsers, tick for tick."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    header = next(line for line in readme.splitlines() if line.startswith("| option | `refresh` |"))
    commands = [cell.strip(" `") + "_devdb" for cell in header.strip("|").split("|")[1:]]
    rows = readme[readme.index(header):].splitlines()[2:]
    for row in rows[:next(i for i, r in enumerate(rows) if not r.startswith("|"))]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        options = re.findall(r"`(--[a-z-]+)", cells[0].split(":")[0])
        for name, cell in zip(commands, cells[1:]):
            help_text = load_command_class("devdb", name).create_parser("manage.py", name).format_help()
            for option in options:
                assert (f"{option} " in help_text or f"{option}\n" in help_text) == (cell == "✓"), (option, name)
