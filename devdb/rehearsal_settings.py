"""Settings of a migration child process (devdb.rehearsal): the project's settings module, named by
DEVDB_REHEARSAL_SETTINGS, with DATABASES replaced: `default` is the copy (read from the 0600 file named
by DEVDB_REHEARSAL_SPEC, so no password is in argv or the environment), every other alias refuses to
connect (devdb.backends.unusable)."""

import importlib
import json
import os

_project = importlib.import_module(os.environ["DEVDB_REHEARSAL_SETTINGS"])
globals().update({name: value for name, value in vars(_project).items() if name.isupper()})

with open(os.environ["DEVDB_REHEARSAL_SPEC"], encoding="utf-8") as _file:
    _copy = json.load(_file)["database"]

DATABASES = {
    "default": _copy,
    **{alias: {"ENGINE": "devdb.backends.unusable", "NAME": alias}
       for alias in getattr(_project, "DATABASES", {}) if alias != "default"},
}
