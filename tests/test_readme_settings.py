"""The README's configuration tables are the settings declared in devdb.conf, row for row.

When this fails, paste the expected table it prints into README.md ("Configuration") or fix the declaration.
"""

from pathlib import Path

from devdb import conf

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def shown_default(setting):
    if setting.shown_default:
        return setting.shown_default
    if setting.required:
        return "required"
    return f"`{setting.default}`" if isinstance(setting.default, str) else f"`{setting.default!r}`"


def table(title, declarations):
    rows = [f"| {title} | environment variable | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.key}` | {f'`{s.env}`' if s.env else '—'} | {shown_default(s)} | {s.doc} |" for s in declarations]
    return "\n".join(rows) + "\n"


def test_readme_target_table_is_the_declared_target_settings():
    expected = table('target setting (`DEVDB["TARGETS"][name]`)', conf.TARGET_SETTINGS)
    assert expected in README, f"README.md should hold this table:\n{expected}"


def test_readme_global_table_is_the_declared_global_settings():
    expected = table('global setting (`DEVDB`)', conf.GLOBAL_SETTINGS)
    assert expected in README, f"README.md should hold this table:\n{expected}"


def test_every_environment_variable_of_the_example_project_is_documented():
    for variable in ("DATABASE_URL", "DEVDB_DATABASE_URL", "DEVDB_LOG_LEVEL", conf.TARGET_VARIABLE, "DJANGO_DEBUG"):
        assert f"| `{variable}` |" in README, variable
