"""The masking gate reads the real schema (issue 16.1, 16.2), on the real MariaDB and PostgreSQL servers.

A project-like database (tests.masking_db.ProjectDatabase): Django's contrib tables full of users,
admin log entries and sessions, the shop, a third-party-style table, a history table, a raw table no
model declares, a raw column added by SQL, another schema / database. Rules that leave any of it
undecided are refused by the gate, by masking itself and (tests/test_masking_cli.py style) by the
commands; presets plus the project's own decisions mask it so that no original value is left in a
dump of the database.
"""

import os
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb import flavours
from devdb.errors import Undecided
from devdb.masking import gate, mask_clone, presets
from tests.masking_db import ProjectDatabase
from tests.project import ROOT, manage
from tests.test_masking import RULES

KEY = "schema gate key, long enough to be a real one"
RAW = ["legacy_contacts", "newsletter_subscriber", "shop_historicalcustomer", "shop_customer.loyalty_card"]


def full_rules(db):
    """Presets + the shop's rules (tests.test_masking.RULES) + decisions for what no model declares."""
    return {
        **RULES,
        "table:shop_customer": {"loyalty_card": "hash"},  # beside the model's own fields
        "table:legacy_contacts": {"id": "keep", "contact_name": "full_name", "phone": "phone", "note": "text"},
        "table:newsletter_subscriber": {"id": "keep", "email": "email", "full_name": "full_name", "subscribed_at": "keep"},
        "table:shop_historicalcustomer": {"history_id": "keep", "id": "keep", "email": "email", "first_name": "first_name",
                                          "last_name": "last_name", "history_date": "shift_date", "history_type": "keep"},
        f"table:{db.archive}.old_customers": {"id": "keep", "email": "email", "name": "full_name"},
    }


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture(params=["mysql", "postgresql"])
def project_db(request):
    params = request.getfixturevalue("mariadb" if request.param == "mysql" else "postgresql")
    db = ProjectDatabase(request.param, {k: v for k, v in params.items() if k != "database"} | (
        {"database": params["database"]} if request.param == "postgresql" else {}))
    try:
        db.seed(200)
        yield db
    finally:
        db.drop()


def text_cells(db):
    """Every value of every column of every table the gate sees, as text (a SELECT of everything)."""
    from django.db import connections

    cells = set()
    with db.alias() as alias:
        connection = connections[alias]
        for table in flavours.for_vendor(db.vendor).introspect(connection):
            flavour = flavours.for_vendor(db.vendor)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {flavour.quote(table.name)}")
                cells.update(str(v) for row in cursor.fetchall() for v in row if v is not None)
    return cells


def test_introspection_sees_every_table_and_column_of_every_schema(project_db):
    from django.db import connections

    with project_db.alias() as alias:
        tables = {str(t.name): t for t in flavours.for_vendor(project_db.vendor).introspect(connections[alias])}
    archived = f"{project_db.archive}.old_customers"
    assert {"auth_user", "auth_user_groups", "auth_user_user_permissions", "auth_group_permissions", "django_admin_log",
            "django_session", "django_content_type", "shop_customer", "legacy_contacts", "newsletter_subscriber",
            "shop_historicalcustomer", archived} <= set(tables)
    assert "devdb_masking_progress" not in tables
    assert "loyalty_card" in tables["shop_customer"].columns and tables["shop_customer"].pk.name == "id"
    assert set(tables[archived].columns) == {"id", "email", "name"} and not tables[archived].own
    assert tables["newsletter_subscriber"].columns["email"].unique
    assert tables["legacy_contacts"].columns["contact_name"].max_length == 100


def test_partial_rules_are_refused_listing_what_is_undecided_and_nothing_changes(project_db, settings):
    before = project_db.dump()
    missing = gate.check_database(project_db.params, RULES)  # presets and the shop: the raw rest is undecided
    archived = f"{project_db.archive}.old_customers"
    assert sorted(m.split(" ")[0] for m in missing) == sorted(RAW + [archived])
    assert f"{archived} (no decision: 3 column(s))" in missing
    with pytest.raises(Undecided) as refused:
        mask_clone(project_db.params, RULES, KEY)
    assert "masking refused, 5 undecided: " in str(refused.value) and "legacy_contacts" in str(refused.value)
    without_presets = {k: v for k, v in RULES.items() if k not in presets.DJANGO or k == "sessions.Session"}
    missing = gate.check_database(project_db.params, without_presets)
    assert {"auth_user (no decision: 10 column(s))", "django_admin_log (no decision: 7 column(s))"} <= set(missing)
    assert any(m.startswith("auth_user_groups ") for m in missing)  # the many-to-many tables too
    assert project_db.dump() == before  # refused before the first change, the progress table included


def test_full_rules_leave_no_original_personal_value_in_a_dump(project_db):
    originals = project_db.personal_values()
    assert len(originals) > 1000
    assert gate.check_database(project_db.params, full_rules(project_db)) == []
    report = mask_clone(project_db.params, full_rules(project_db), KEY)
    assert report.ok, report.verification
    masked = {t["table"] for t in report.tables}
    assert {"auth_user", "django_admin_log", "django_session", "legacy_contacts", "newsletter_subscriber",
            "shop_historicalcustomer", f"{project_db.archive}.old_customers"} <= masked
    left = originals & text_cells(project_db)
    assert not left, f"{len(left)} original values left, e.g. {sorted(left)[:3]}"
    dump = project_db.dump()
    ip = re.compile(r"^[\d.]+$")
    distinctive = {v for v in originals if len(v) >= 8 and not ip.match(v)}
    assert not [v for v in distinctive if v in dump]
    assert not re.search(r"@(corp|mail\d)\.example\.com", dump)  # no original address, not even inside free text
    assert project_db.query("SELECT COUNT(*) FROM auth_user")[0][0] == 60  # rows kept
    assert project_db.query("SELECT COUNT(*) FROM django_session")[0][0] == 0  # sessions truncated


def test_table_keys_and_model_keys_are_checked_for_shape(settings):
    from devdb.checks import check_masking

    settings.DEVDB = {**settings.DEVDB, "MASKING": {**RULES, "table:legacy": "scramble", "table:other.t": {"c": "bogus"},
                                                    "table:x": {"c": "keep"}}}
    assert sorted(e.id for e in check_masking()) == ["devdb.E032", "devdb.E032"]


def test_manage_py_check_and_mask_devdb_check_refuse_partial_rules_and_pass_full_ones(project_db, tmp_path):
    url = project_db.url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVDB_", "DJANGO_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, DEVDB_DATABASE_URL=f"sqlite:///{tmp_path}/devdb.sqlite3", DEVDB_MASKING_KEY=KEY,
               PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}")
    # The example project (presets + the shop) on this database: the raw tables and column are undecided.
    check = manage("mask_devdb", "--check", env=env, timeout=120)
    assert check.returncode == 1, check.stdout + check.stderr
    for name in RAW + [f"{project_db.archive}.old_customers"]:
        assert re.search(rf"^{re.escape(name)}\b.*no masking decision \(in the database\)$", check.stdout, re.M), check.stdout
    assert "5 field(s) / column(s) have no masking decision" in check.stderr
    system = manage("check", env=env, timeout=120)
    assert system.returncode == 1
    assert "devdb.E034" in system.stderr and "legacy_contacts (no decision: 4 column(s)) (in the database of 'default')" in system.stderr
    # The same with the decisions for what no model declares: everything is decided.
    rules = {k: v for k, v in full_rules(project_db).items() if k.startswith("table:")}
    (tmp_path / "full_settings.py").write_text(
        "from project.settings import *  # noqa\n"
        f"DEVDB['MASKING'] = {{**DEVDB['MASKING'], **{rules!r}}}\n")
    full = {**env, "DJANGO_SETTINGS_MODULE": "full_settings"}
    check = manage("mask_devdb", "--check", env=full, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    system = manage("check", env=full, timeout=120)
    assert "devdb.E033" not in system.stderr and "devdb.E034" not in system.stderr, system.stderr
    masked = manage("mask_devdb", "--url", url, env=full, timeout=300)
    assert masked.returncode == 0 and "verification passed" in masked.stdout, masked.stdout + masked.stderr
    assert "@corp.example.com" not in project_db.dump()


def test_an_unreadable_default_database_is_a_warning_naming_mask_devdb_check(settings):
    from devdb.checks import check_masking

    settings.DEVDB = {**settings.DEVDB, "MASKING": RULES}
    settings.DATABASES = {**settings.DATABASES, "default": {  # nothing listens on port 1
        "ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1", "PORT": "1", "NAME": "nowhere",
        "USER": "u", "PASSWORD": "Secret-pw-4411", "OPTIONS": {"connect_timeout": 2}}}
    found = check_masking()
    assert [(f.id, f.level) for f in found] == [("devdb.W031", 30)]
    assert "mask_devdb --check" in found[0].hint and "Secret-pw-4411" not in found[0].msg


def test_mask_devdb_check_reads_the_database_named_by_url(project_db, settings, capsys):
    settings.DEVDB = {**settings.DEVDB, "MASKING": RULES}
    with pytest.raises(CommandError) as caught:
        call_command("mask_devdb", "--check", "--url", project_db.url)
    assert caught.value.returncode == 1
    assert "legacy_contacts (no decision: 4 column(s)): no masking decision (in the database)" in capsys.readouterr().out
    settings.DEVDB["MASKING"] = full_rules(project_db)
    call_command("mask_devdb", "--check", "--url", project_db.url)
    assert "every model field and every table and column" in capsys.readouterr().out
