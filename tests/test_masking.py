"""Masking on the real MariaDB and PostgreSQL servers: rules, keys, resumption, verification, gate."""

import copy
import hashlib
import hmac
import json
import logging
import re

import pytest
import time_machine
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb.errors import Undecided
from devdb.masking import MaskingError, mask_clone, presets, verify
from devdb.masking.rules import FIRST_NAMES, LAST_NAMES, Fixed, Hash, Key, Text
from tests.masking_db import ShopDatabase

KEY = "correct horse battery staple, 32+ bytes"
PERSONAL = {"shop_customer": ("email", "first_name", "last_name", "phone", "birth_date", "notes", "last_login_ip"),
            "shop_address": ("street", "city", "postcode")}
RULES = {
    "shop.Customer": {"email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone",
                      "birth_date": "shift_date", "notes": "text", "last_login_ip": "ip"},
    "shop.Address": {"customer": "keep", "street": "full_name", "city": Fixed("Nowhere"), "postcode": "hash"},
    "shop.Order": "keep",
    "sessions.Session": "truncate",
    **presets.DJANGO,  # Django's own apps: every model of the project is decided
}


def with_rules(**tables):
    """RULES with some of its models' field rules replaced: every table of the shop stays decided."""
    return {**RULES, **{label.replace("__", "."): {**RULES[label.replace("__", ".")], **fields}
                        for label, fields in tables.items()}}


def expected_email(key, value):
    return f"u{key.hmac(value)[:20]}@example.invalid"


def expected_phone(key, value):
    h = key.hmac(value)
    return f"+1 555 01{int(h[:8], 16) % 100:02d} {int(h[8:16], 16) % 10000:04d} x{int(h[16:31], 16) % 10**10:010d}"


def expected_ip(key, value):
    h = key.hmac(str(value))
    return "2001:db8:" + ":".join("a" + h[3 * i:3 * i + 3] for i in range(6))


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture(params=["mysql", "postgresql"])
def shop(request, settings):
    params = request.getfixturevalue("mariadb" if request.param == "mysql" else "postgresql")
    db = ShopDatabase(request.param, {k: v for k, v in params.items() if k != "database"} | (
        {"database": params["database"]} if request.param == "postgresql" else {}))
    # MariaDB's root sees every database of the server (other tests' too): the gate reads this one only.
    settings.DEVDB = {**settings.DEVDB, "MASKING_SCHEMAS": [db.name]}
    db.seed(300)
    yield db
    db.drop()


def test_hmac_in_sql_matches_pythons_hmac(shop):
    from devdb import flavours

    flavour = flavours.for_vendor(shop.vendor)
    for secret in (KEY, "k" * 100):  # a key longer than SHA-256's block is hashed first, as hmac does
        key = Key(secret)
        for value in ("alice@example.com", "Jörg Müller – 東京", ""):
            (got,) = shop.query(f"SELECT {flavour.hmac_sha256('%(v)s', 'ipad', 'opad')}", {**key.params, "v": value})[0]
            assert got == hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_each_rule_masks_its_column(shop):
    before = shop.snapshot()
    shop.query("INSERT INTO django_session (session_key, session_data, expire_date) VALUES ('abc', 'x', '2030-01-01')")
    report = mask_clone(shop.params, RULES, KEY, batch_size=64)
    assert report.ok, report.verification
    assert report.rows == 600 and {t["table"] for t in report.tables} == {"shop_customer", "shop_address", "django_session"}
    after = shop.snapshot()
    key = Key(KEY)
    for old, new in zip(before["shop_customer"], after["shop_customer"]):
        pk, email, first, last, phone, birth, notes, ip = new
        assert email == expected_email(key, old[1])  # the value only: the same address, the same mask
        assert first.split("-")[0] in FIRST_NAMES and len(first.split("-")[1]) == 3
        assert last.split("-")[0] in LAST_NAMES and last != old[3]
        assert phone == expected_phone(key, old[4]) and len(phone) == 28
        assert 1 <= abs((birth - old[5]).days) <= 180
        assert notes.startswith("masked ") and len(notes) == 64
        assert str(ip) == expected_ip(key, old[7])
    for old, new in zip(before["shop_address"], after["shop_address"]):
        assert new[0] == old[0] and new[-1] == old[-1]  # id, customer kept
        assert new[1].split()[0] in FIRST_NAMES and new[2] == "Nowhere" and new[3] == key.hmac(old[3])[:16]
    assert shop.query("SELECT COUNT(*) FROM django_session")[0][0] == 0
    assert len(set(shop.column("shop_customer", "email"))) == 300


def test_null_empty_unusable_password_custom_and_bounded_text(shop):
    rules = with_rules(shop__Customer={"last_login_ip": "null", "phone": "empty", "first_name": "unusable_password",
                                       "notes": Text(max_length=10),
                                       "last_name": lambda c: c.flavour.concat("'x-'", c.flavour.text(c.pk))})
    assert mask_clone(shop.params, rules, KEY).ok
    rows = shop.query("SELECT id, last_login_ip, phone, first_name, notes, last_name FROM shop_customer ORDER BY id")
    from django.contrib.auth.hashers import check_password, is_password_usable

    for pk, ip, phone, password, notes, last in rows:
        assert ip is None and phone == "" and last == f"x-{pk}" and len(notes) == 10
        assert password.startswith("!") and len(password) == 41
        assert not is_password_usable(password) and not check_password("anything", password)


def test_hash_keeps_joins_consistent_across_tables(shop):
    shop.query("UPDATE shop_address SET postcode = (SELECT LEFT(email, 16) FROM shop_customer "
               "WHERE shop_customer.id = shop_address.customer_id)")
    shop.query("UPDATE shop_customer SET phone = LEFT(email, 16)")
    join = "SELECT COUNT(*) FROM shop_customer c JOIN shop_address a ON a.postcode = c.phone"
    (matches,) = shop.query(join)[0]
    rules = with_rules(shop__Customer={"phone": Hash(length=16)}, shop__Address={"postcode": Hash(length=16)})
    assert mask_clone(shop.params, rules, KEY).ok
    joined = shop.query("SELECT c.phone, a.postcode FROM shop_customer c JOIN shop_address a ON a.customer_id = c.id")
    assert len(joined) == 300 and all(phone == postcode for phone, postcode in joined)
    assert shop.query(join)[0][0] == matches >= 300  # a join on the masked values finds what it found before


def test_same_key_same_output_every_day_another_key_differs(shop):
    with time_machine.travel("2026-11-22T05:00:00Z"):
        mask_clone(shop.params, RULES, KEY)
    day1 = shop.snapshot()
    shop.reset(300)
    with time_machine.travel("2026-11-23T05:00:00Z"):
        mask_clone(shop.params, RULES, KEY)
    assert shop.snapshot() == day1
    shop.reset(300)
    mask_clone(shop.params, RULES, "another key, as long as the first one")
    other = shop.snapshot()
    for table in ("shop_customer", "shop_address"):
        assert all(a != b for a, b in zip(day1[table], other[table]))


class Killed(BaseException):
    """Stands for SIGKILL between two batches."""


def killer(batches):
    """An echo that kills the run after `batches` batches."""
    seen = []

    def echo(text):
        seen.append(text)
        if len(seen) == batches:
            raise Killed()

    return echo


def test_a_killed_run_finishes_on_the_next_run_and_masks_each_row_once(shop):
    mask_clone(shop.params, RULES, KEY)
    reference = shop.snapshot()
    shop.reset(300)
    with pytest.raises(Killed):
        mask_clone(shop.params, RULES, KEY, batch_size=50, echo=killer(3), workers=1)
    assert shop.query("SELECT COUNT(*) FROM shop_customer WHERE email LIKE %s", ["%@example.invalid"])[0][0] == 150
    with pytest.raises(MaskingError):  # half-masked: verification names the unfinished table
        raise MaskingError("; ".join(verify(shop.params, RULES, KEY)["failures"]))
    report = mask_clone(shop.params, RULES, KEY, batch_size=50, workers=1)
    assert report.ok and report.tables[0]["resumed"] == "after id 150"
    assert shop.snapshot() == reference
    verdict = report.verification  # the resumed run sampled what was still original, and says so
    assert "shop_customer: resumed after id 150: sampled only the rows not masked yet" in verdict["sample_notes"]
    assert 100 <= verdict["sampled"]["shop_customer.email"] <= 150 and verdict["sampled"]["shop_address.street"] > 150
    again = mask_clone(shop.params, RULES, KEY)  # done with these rules: nothing is masked twice
    assert again.ok and all(t["resumed"] == "already done" for t in again.tables)
    assert shop.snapshot() == reference


def originals(shop):
    """Every personal value of the seeded shop, as text: none may show in a report or a log."""
    return {str(v) for t, cols in PERSONAL.items() for c in cols for v in shop.column(t, c)
            if v is not None and c != "birth_date"}


def assert_never_shown(text, values):
    shown = [v for v in values if len(v) >= 6 and v in text]
    assert not shown, f"{len(shown)} original values shown, e.g. {shown[0][:3]}..."


def test_verification_fails_when_a_rule_leaves_a_source_value(shop):
    keeps = {**RULES, "shop.Customer": {**RULES["shop.Customer"], "first_name": lambda column: column.sql}}
    report = mask_clone(shop.params, keeps, KEY)
    assert not report.ok
    assert any(f.startswith("shop_customer.first_name: ") and "sampled rows still hold their original value" in f
               for f in report.verification["failures"]), report.verification["failures"]
    assert any(f.startswith("shop_customer.first_name: ") and "rows hold a sampled original value of "
               "shop_customer.first_name" in f for f in report.verification["failures"])


def test_a_copy_of_personal_data_elsewhere_fails_verification_naming_the_column(shop):
    """An email copied into a raw table's text (no model): undecided, it is refused; wrongly decided
    `keep`, verification fails. Then a `keep` on a column holding the addresses. Each failure names the
    column and where the value came from, never showing a value."""
    values = originals(shop)
    shop.query("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, message VARCHAR(400))")
    shop.query("INSERT INTO audit_log (id, message) SELECT id, " + ("CONCAT('changed email to ', email, '.')"
               if shop.vendor == "mysql" else "'changed email to ' || email || '.'") + " FROM shop_customer")
    with pytest.raises(Undecided, match="audit_log"):
        mask_clone(shop.params, RULES, KEY)
    report = mask_clone(shop.params, {**RULES, "table:audit_log": "keep"}, KEY)
    failures = report.verification["failures"]
    assert not report.ok and any(re.fullmatch(r"audit_log\.message: \d+ rows hold a sampled original value of "
                                              r".*shop_customer\.email.*", f) for f in failures), failures
    assert any(re.fullmatch(r"audit_log\.message: 300 rows hold an email address outside example\.invalid \(sampled values "
                            r"of .*shop_customer\.email.* among them\)", f) for f in failures), failures
    assert [f for f in failures if not f.startswith("audit_log.")] == []
    assert_never_shown(json.dumps(report.as_dict(), default=str), values)

    shop.reset(300)
    shop.query("UPDATE shop_customer SET notes = " + ("CONCAT('write to ', email)" if shop.vendor == "mysql"
                                                     else "'write to ' || email"))
    kept = {**RULES, "table:audit_log": "keep", "shop.Customer": {**RULES["shop.Customer"], "notes": "keep"}}
    report = mask_clone(shop.params, kept, KEY)
    failures = report.verification["failures"]
    assert any(re.fullmatch(r"shop_customer\.notes: \d+ rows hold a sampled original value of .*shop_customer\.email.*",
                            f) for f in failures), failures
    assert any(re.fullmatch(r"shop_customer\.notes: 300 rows hold an email address outside example\.invalid \(sampled values "
                            r"of .*shop_customer\.email.* among them\)", f) for f in failures), failures
    assert_never_shown(json.dumps(report.as_dict(), default=str), values)


def test_full_rules_pass_and_the_report_says_what_was_sampled_and_searched(shop):
    report = mask_clone(shop.params, RULES, KEY)
    verdict = report.verification
    assert report.ok, verdict["failures"]
    sampled = verdict["sampled"]
    assert set(sampled) == {f"{t}.{c}" for t, cols in PERSONAL.items() for c in cols}
    assert all(200 <= n <= 300 for n in sampled.values()), sampled  # both ends and windows of 300 rows
    searched = verdict["searched"]
    assert set(searched["in"]) == {"shop_customer", "shop_address", "django_session"}  # shop_order: no text
    assert set(searched["in"]["shop_customer"]) >= {"email", "first_name", "last_name", "phone", "notes"}
    assert searched["tables"] == 3 and searched["values"] > 1000 and searched["substrings"] > 20
    assert verdict["rows_counted"] == 4 and verdict["foreign_keys"] == 0  # no FK column or target was masked
    assert "devdb_masking_progress" not in searched["in"]


def _on_masking_connection(sql):
    """Run sql on the masking run's own connection (its temporary alias): another session, mid-run."""
    from django.db import connections

    for alias in list(connections.settings):
        if alias.startswith("devdb_masking_"):
            with connections[alias].cursor() as cursor:
                cursor.execute(sql)


def test_row_count_uniqueness_and_foreign_key_checks_each_fail(shop):
    def delete_an_order(text):
        if text.startswith("shop.Customer"):
            shop.query("DELETE FROM shop_order WHERE id = 7")  # another session, while masking

    report = mask_clone(shop.params, RULES, KEY, batch_size=100, echo=delete_an_order)
    assert report.verification["failures"] == ["shop_order: 299 rows after masking, 300 before"]

    shop.reset(300)
    if shop.vendor == "mysql":
        (index,) = [r[2] for r in shop.query("SHOW INDEX FROM shop_customer") if r[4] == "email" and not r[1]]
        shop.query(f"ALTER TABLE shop_customer DROP INDEX {index}")
    else:
        (name,) = shop.query("SELECT conname FROM pg_constraint WHERE conrelid = 'shop_customer'::regclass "
                             "AND contype = 'u'")[0]
        shop.query(f"ALTER TABLE shop_customer DROP CONSTRAINT {name}")
    same = {**RULES, "shop.Customer": {**RULES["shop.Customer"], "email": Fixed("same@example.invalid")}}
    report = mask_clone(shop.params, same, KEY)
    assert report.verification["failures"] == ["shop_customer.email: unique column has 299 duplicates"]

    shop.reset(300)
    off = "SET FOREIGN_KEY_CHECKS = 0" if shop.vendor == "mysql" else "SET session_replication_role = replica"
    moved = {**RULES, "shop.Address": {**RULES["shop.Address"], "customer": lambda c: f"{c.sql} + 1000000"}}
    # One worker: the session setting that lets the broken key in holds on the connection it was set on.
    report = mask_clone(shop.params, moved, KEY, echo=lambda text: _on_masking_connection(off), workers=1)
    failures = report.verification["failures"]
    assert len(failures) == 1 and failures[0].startswith("shop_address.customer_id: 300 rows point at no "
                                                         "shop_customer row (foreign key "), failures
    assert report.verification["foreign_keys"] == 1


def test_a_key_shorter_than_32_bytes_is_refused_in_one_line_naming_the_variable():
    from devdb.errors import ConfigError

    for short in ("a", "x" * 31, "ключ" * 3):  # 24 bytes of UTF-8
        with pytest.raises(ConfigError) as caught:
            Key(short)
        text = str(caught.value)
        assert "DEVDB_MASKING_KEY" in text and "at least 32" in text and "\n" not in text
        assert len(short) == 1 or short not in text
    assert Key("x" * 32).id != Key("y" * 32).id and len(Key("x" * 32).id) == 16
    assert "x" * 32 not in repr(Key("x" * 32))


def key_forms(key):
    key = Key(key)
    return [key.raw.decode(), key.raw.hex(), *key.params.values(), *(p[i:i + 16] for p in key.params.values()
                                                                      for i in range(0, 128, 16))]


def test_debug_sql_logging_shows_neither_the_key_nor_original_values(shop, settings, caplog):
    values = originals(shop)
    settings.DEBUG = True  # Django's debug cursor: every statement and its parameters, logged at DEBUG
    with caplog.at_level(logging.DEBUG, logger="django.db.backends"):
        report = mask_clone(shop.params, RULES, KEY, batch_size=100)
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    settings.DEBUG = False
    shop.reset(300)  # (seeding is logged too: not masking's doing)
    values |= originals(shop)
    caplog.clear()
    settings.DEBUG = True
    broken = {**RULES, "shop.Address": {**RULES["shop.Address"], "postcode": lambda c: f"no_such_function({c.hmac()})"}}
    with caplog.at_level(logging.DEBUG, logger="django.db.backends"), pytest.raises(MaskingError) as caught:
        mask_clone(shop.params, broken, KEY)
    logged += caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert report.ok
    assert "UPDATE" not in logged or "shop_customer" in logged  # statements were logged ...
    assert "devdb_masking_progress" in logged and "SELECT" in logged
    error = str(caught.value)
    assert "no_such_function" in error.lower() or "does not exist" in error.lower(), error
    for form in key_forms(KEY):  # ... but no key, in no form, whole or cut
        assert form.lower() not in logged.lower() and form.lower() not in error.lower()
    assert_never_shown(logged + error, values)


def test_resume_with_another_key_or_other_rules_refuses_and_never_masks_twice(shop):
    mask_clone(shop.params, RULES, KEY)
    reference = shop.snapshot()
    shop.reset(300)
    with pytest.raises(Killed):
        mask_clone(shop.params, RULES, KEY, batch_size=50, echo=killer(3))
    half = shop.snapshot()
    other_rules = {**RULES, "shop.Customer": {**RULES["shop.Customer"], "notes": Text(max_length=20)}}
    for rules, key in ((RULES, "another key, as long as the first one"), (other_rules, KEY)):
        with pytest.raises(MaskingError) as caught:
            mask_clone(shop.params, rules, key)
        assert str(caught.value) == (
            "this database was partly masked with other rules or another key (DEVDB['MASKING'] or DEVDB_MASKING_KEY "
            "changed since): masking it again would mask masked values; mask a fresh copy of the source")
        assert shop.snapshot() == half  # nothing masked twice
    stored = " ".join(str(r) for r in shop.query("SELECT * FROM devdb_masking_progress"))
    assert all(form.lower() not in stored.lower() for form in key_forms(KEY))
    report = mask_clone(shop.params, RULES, KEY, batch_size=50)  # the same key and rules finish the job
    assert report.ok and shop.snapshot() == reference
    with pytest.raises(MaskingError, match="^this database was masked with other rules or another key"):
        mask_clone(shop.params, RULES, "another key, as long as the first one")
    assert shop.snapshot() == reference


def test_dry_run_prints_the_sql_and_changes_nothing(shop):
    before = shop.snapshot()
    report = mask_clone(shop.params, RULES, KEY, dry_run=True)
    text = "\n".join(report.sql)
    assert "UPDATE" in text and "shop_customer" in text and "TRUNCATE TABLE" in text
    assert all(pad not in text for pad in Key(KEY).params.values()) and KEY not in text
    assert shop.snapshot() == before
    schema = "DATABASE()" if shop.vendor == "mysql" else "current_schema()"
    assert not shop.query("SELECT table_name FROM information_schema.tables "
                          f"WHERE table_name = 'devdb_masking_progress' AND table_schema = {schema}")


def test_errors_name_neither_the_password_nor_the_key(mariadb):
    params = {**mariadb, "vendor": "mysql", "password": "Sup3rSecretPw", "user": "nobody_masking",
              "database": "test_masking_nowhere"}
    with pytest.raises(MaskingError) as caught:
        mask_clone(params, RULES, KEY)
    assert "Sup3rSecretPw" not in str(caught.value) and "access denied" in str(caught.value).lower()


def test_rules_for_missing_models_fields_or_rules_are_check_errors(settings):
    from devdb.checks import check_masking

    settings.DEVDB = {**settings.DEVDB, "MASKING": {
        "shop.Nope": {"x": "keep"}, "shop.Customer": {"nope": "email", "email": "bogus"}, "shop.Order": "scramble"}}
    ids = sorted(e.id for e in check_masking())
    assert ids == ["devdb.E030", "devdb.E031", "devdb.E032", "devdb.E032"]


def test_gate_fails_on_an_undecided_field(settings, capsys):
    rules = {label: dict(fields) if isinstance(fields, dict) else fields for label, fields in RULES.items()}
    del rules["shop.Customer"]["phone"]
    settings.DEVDB = {**settings.DEVDB, "MASKING": rules}
    with pytest.raises(CommandError) as caught:
        call_command("mask_devdb", "--check")
    assert caught.value.returncode == 1 and "1 field(s) / column(s) have no masking decision" in str(caught.value)
    assert "shop.Customer.phone: no masking rule" in capsys.readouterr().out
    from devdb.checks import check_masking

    assert [(e.id, e.level, e.msg) for e in check_masking()] == [
        ("devdb.E033", checks.ERROR, "shop.Customer.phone has no masking rule")]  # an error: the gate fails closed
    del settings.DEVDB["MASKING"]["auth.User"]  # Django's own models are no exception
    assert {e.msg for e in check_masking()} >= {"auth.User.email has no masking rule", "auth.User.password has no masking rule",
                                                  "auth.User.groups has no masking rule", "shop.Customer.phone has no masking rule"}
    settings.DEVDB["MASKING"]["auth.User"] = presets.DJANGO["auth.User"]
    settings.DEVDB["MASKING"]["shop.Customer"]["phone"] = "keep"  # keep is a decision
    call_command("mask_devdb", "--check")
    assert check_masking() == []


def test_suggest_prints_starter_rules_for_personal_looking_fields(capsys):
    call_command("mask_devdb", "--suggest")
    out = capsys.readouterr().out
    for line in ("'email': 'email'", "'first_name': 'first_name'", "'phone': 'phone'", "'birth_date': 'shift_date'",
                 "'last_login_ip': 'ip'", "'street': 'text'", "'total': 'keep'"):
        assert line in out


@pytest.mark.django_db(databases="__all__")
def test_admin_shows_masked_and_an_unmasked_clone_of_a_masking_target_stands_out(settings, admin_client):
    from datetime import datetime, timezone

    from devdb import history

    at = datetime(2026, 11, 22, 5, tzinfo=timezone.utc)
    settings.DEVDB = {**copy.deepcopy(settings.DEVDB), "MASKING": RULES}
    settings.DEVDB["TARGETS"]["dev"]["MASK"] = True
    for cluster in ("dev-20261121", "dev-20261122"):
        history.mirror(target="dev", cluster_id=cluster, state="created", at=at, source="prod-aurora")
    report = {"fingerprint": "3c6f83fac380811f", "rows": 6000, "seconds": 0.3, "tables": [],
              "verification": {"ok": True, "checks": 8, "failures": []}}
    history.record_masking("dev-20261122", at, report)
    html = admin_client.get("/admin/devdb/clonerecord/").content.decode()
    masked_row = next(r for r in html.split("<tr") if "dev-20261122" in r)
    unmasked_row = next(r for r in html.split("<tr") if "dev-20261121" in r)
    assert "devdb-masked" in masked_row and "rules 3c6f83fac380811f: 6000 rows" in masked_row
    assert ">UNMASKED</span>" in unmasked_row
    record = history.find("dev-20261122")
    assert record.masking == report and "masked and verified" in record.events.last().message
    page = admin_client.get(f"/admin/devdb/clonerecord/{record.pk}/change/").content.decode()
    assert "3c6f83fac380811f" in page and "masking report" in page.lower()


def test_rules_resolve_through_model_meta_including_many_to_many_tables():
    from devdb.masking.rules import resolve

    tables = {t.table: t for t in resolve({"auth.User": {"password": "unusable_password", "groups": "truncate",
                                                         "email": "email"}})}
    assert set(tables) == {"auth_user", "auth_user_groups"}
    assert tables["auth_user_groups"].truncate and tables["auth_user"].pk == "id"
    assert [(column, rule.name) for column, _f, rule in tables["auth_user"].columns] == [
        ("password", "unusable_password"), ("email", "email")]
