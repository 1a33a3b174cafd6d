"""The migration child process of devdb.rehearsal: `python -m devdb.rehearsal_child`, with
DJANGO_SETTINGS_MODULE=devdb.rehearsal_settings. It runs the rehearsal on `default` (the copy), prints
progress lines on stderr and writes the report as JSON to the file DEVDB_REHEARSAL_REPORT names."""

import json
import os
import sys


def main():
    import django

    django.setup()
    from devdb import rehearsal

    with open(os.environ["DEVDB_REHEARSAL_SPEC"], encoding="utf-8") as file:
        rehearsal.COUNT_LIMIT_BYTES = json.load(file)["count_limit_bytes"]

    def echo(text):
        print(rehearsal.PROGRESS + text, file=sys.stderr, flush=True)

    report = rehearsal._Rehearsal("default", echo).run()
    with open(os.environ["DEVDB_REHEARSAL_REPORT"], "w", encoding="utf-8") as file:
        json.dump(report.as_dict(), file)


if __name__ == "__main__":
    main()
