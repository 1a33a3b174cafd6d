"""Masking rules users need (issue 16.6) and masking speed features (16.7), on the real MariaDB and
PostgreSQL: the JSON rule, --suggest, value-only unique-preserving email / phone / ip (the same value
gives the same output in every table and on both engines), one HMAC per row per column, workers."""

import json
import re
import uuid

import pytest
from django.core.management import call_command

from devdb import flavours
from devdb.masking import mask_clone, verify
from devdb.masking.apply import Masking
from devdb.masking.rules import Json, Key, problems
from tests.masking_db import ShopDatabase
from tests.test_masking import KEY, RULES, Killed, expected_email, expected_ip, expected_phone

MEMBER_RULES = {
    "shop.Member": {"username": "hash", "uid": "uuid", "client_secret": "hash", "bio": "text", "email": "email",
                    "phone": "phone", "ip": "ip",
                    "profile": Json(keys={"email": "email", "name": "full_name", "contact.phone": "phone",
                                          "ids": "hash"})},
    "shop.Contact": {"contact": "keep", "email": "email", "phone": "phone", "ip": "ip",
                     "data": Json(replace={"masked": True})},
}


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def member_models():
    """Two models registered in the shop app for this module only: a member (unique personal
    columns, JSON, a uuid, a secret, free text) and a contact pointing at it (the same kinds of
    values, not unique)."""
    from django.apps import apps
    from django.db import models

    class Member(models.Model):
        username = models.CharField(max_length=150, unique=True)
        uid = models.UUIDField(unique=True)
        client_secret = models.CharField(max_length=64)
        profile = models.JSONField(null=True)
        bio = models.TextField(blank=True)
        email = models.EmailField(unique=True)
        phone = models.CharField(max_length=32, unique=True)
        ip = models.GenericIPAddressField(unique=True, null=True)

        class Meta:
            app_label = "shop"

    class Contact(models.Model):
        contact = models.ForeignKey(Member, on_delete=models.CASCADE)  # a FK named like personal data
        email = models.EmailField()
        phone = models.CharField(max_length=32)
        ip = models.GenericIPAddressField(null=True)
        data = models.JSONField(null=True)

        class Meta:
            app_label = "shop"

    yield Member, Contact
    for name in ("member", "contact"):
        apps.all_models["shop"].pop(name, None)
    apps.clear_cache()


class MemberDatabase(ShopDatabase):
    def __init__(self, vendor, params, models):
        self.models = list(models)
        super().__init__(vendor, params)

    def _models(self):
        return self.models

    def add(self, members):
        """Members (dicts of Member fields) and, for each, a contact holding the same values."""
        Member, Contact = self.models
        with self.alias() as alias:
            made = Member.objects.using(alias).bulk_create([Member(**m) for m in members])
            Contact.objects.using(alias).bulk_create([
                Contact(contact=m, email=m.email, phone=m.phone, ip=m.ip, data={"note": m.bio}) for m in made])


def server(request, vendor):
    params = request.getfixturevalue("mariadb" if vendor == "mysql" else "postgresql")
    return {k: v for k, v in params.items() if k != "database"} | (
        {"database": params["database"]} if vendor == "postgresql" else {})


def only(settings, db):
    """MariaDB's root sees every database of the server (other tests' too): the gate reads this one only."""
    settings.DEVDB = {**settings.DEVDB, "MASKING_SCHEMAS": [db.name]}
    return db


@pytest.fixture(params=["mysql", "postgresql"])
def members(request, member_models, settings):
    db = only(settings, MemberDatabase(request.param, server(request, request.param), member_models))
    yield db
    db.drop()


def people(count=40):
    out = []
    for i in range(1, count + 1):
        out.append({"username": f"user{i}", "uid": uuid.UUID(int=i * 7919), "client_secret": f"s3cr3t-{i:04d}",
                    "profile": ({"email": f"p{i}@mail.example.com", "name": f"Person {i}", "theme": "dark",
                                 "contact": {"phone": f"+44 7700 9{i:05d}"}, "ids": [i, i + 1]} if i % 4 else
                                {"theme": "light", "email": None} if i % 8 else None),
                    "bio": f"Member {i} lives at {i} High Street", "email": f"person{i}@mail.example.com",
                    "phone": f"+44 7700 9{i:05d}", "ip": f"10.0.{i // 256}.{i % 256}" if i % 2 else f"2001:db8:1::{i:x}"})
    return out


def rows(db, table, columns):
    return db.query(f"SELECT id, {columns} FROM {table} ORDER BY id")


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(params=["mysql", "postgresql"])
def shop(request, settings):
    db = only(settings, ShopDatabase(request.param, server(request, request.param)))
    db.seed(300)
    yield db
    db.drop()


# --- JSON ------------------------------------------------------------------------------------------


def test_json_rule_masks_named_keys_or_replaces_the_document_and_null_stays_null(members):
    source = people()
    members.add(source)
    report = mask_clone(members.params, MEMBER_RULES, KEY, batch_size=7)
    assert report.ok, report.verification
    key = Key(KEY)
    profiles = [as_json(p) for _pk, p in rows(members, "shop_member", "profile")]
    for person, doc in zip(source, profiles):
        before = person["profile"]
        if before is None:
            assert doc is None  # SQL NULL stays NULL
            continue
        assert doc.get("theme") == before["theme"]  # keys not named are kept
        if "name" not in before:  # keys that are missing stay missing, JSON null stays null
            assert doc == {"theme": "light", "email": None}
            continue
        assert doc["email"] == expected_email(key, before["email"])  # as the email rule masks a column
        assert doc["contact"]["phone"] == expected_phone(key, before["contact"]["phone"])
        assert doc["name"] != before["name"] and doc["name"].split()[0].isalpha()
        assert isinstance(doc["ids"], str) and len(doc["ids"]) == 64  # an array: its keyed hash
    data = [as_json(d) for _pk, d in rows(members, "shop_contact", "data")]
    assert data == [{"masked": True}] * len(source)
    members.query("UPDATE shop_contact SET data = NULL WHERE id = 1")
    assert verify(members.params, MEMBER_RULES, KEY)["ok"]  # NULL is what NULL masks to
    members.query("UPDATE shop_contact SET data = %s WHERE id = 2", ['{"note": "leaked"}'])
    failures = verify(members.params, MEMBER_RULES, KEY)["failures"]
    assert failures == ["shop_contact.data: 1 rows not masked as json"]


def test_json_rule_refuses_bad_keys_and_rules():
    for bad in ({"a b": "hash"}, {"x": "shift_date"}, {"x": "keep"}, {}):
        with pytest.raises(ValueError):
            Json(keys=bad)
    with pytest.raises(ValueError):
        Json(keys=["a"], replace={})


# --- --suggest ------------------------------------------------------------------------------------


def test_suggest_keeps_foreign_keys_and_masks_usernames_uids_secrets_json_and_text(member_models, capsys):
    from django.contrib.auth.models import User

    from devdb.masking.gate import suggest_rule, suggestions

    suggested = suggestions()
    assert suggested["shop.Member"] == {"username": "hash", "uid": "uuid", "client_secret": "hash", "profile": "json",
                                        "bio": "text", "email": "email", "phone": "phone", "ip": "ip"}
    assert suggested["shop.Contact"] == {"contact": "keep", "email": "email", "phone": "phone", "ip": "ip",
                                         "data": "json"}
    assert suggested["shop.Address"]["customer"] == "keep" and suggested["shop.Order"]["customer"] == "keep"
    user = {f.name: suggest_rule(f) for f in User._meta.concrete_fields}
    assert user["username"] == "hash" and user["password"] == "unusable_password" and user["email"] == "email"
    from django.contrib.admin.models import LogEntry

    log = {f.name: suggest_rule(f) for f in LogEntry._meta.concrete_fields}
    assert log["object_repr"] == "text" and log["change_message"] == "text" and log["user"] is None
    call_command("mask_devdb", "--suggest")
    out = capsys.readouterr().out
    assert "'contact': 'keep'," in out and "'profile': 'json',  # looks personal" in out


def test_suggested_rules_mask_and_verify(members):
    from devdb.masking.gate import suggestions

    members.add(people(30))
    spec = {label: rules for label, rules in suggestions().items() if label in ("shop.Member", "shop.Contact")}
    assert not problems(spec)
    report = mask_clone(members.params, spec, KEY, batch_size=8)
    assert report.ok, report.verification
    uids = [u for _pk, u in rows(members, "shop_member", "uid")]
    assert len(set(uids)) == 30 and all(uuid.UUID(str(u)) for u in uids)
    assert all(as_json(d) == {} for _pk, d in rows(members, "shop_contact", "data"))


# --- unique-preserving, value-only email / phone / ip ---------------------------------------------


def _seed_many(db, count):
    if db.vendor == "mysql":
        db.query("INSERT INTO shop_member (id, username, uid, client_secret, bio, email, phone, ip) "
                 "SELECT seq, CONCAT('u', seq), LPAD(HEX(seq), 32, '0'), 's', '', CONCAT('m', seq, '@x.example'), "
                 "CONCAT('+44 7', LPAD(seq, 9, '0')), CONCAT('10.', seq DIV 65536, '.', MOD(seq DIV 256, 256), '.', "
                 f"MOD(seq, 256)) FROM seq_1_to_{count}")
    else:
        db.query("INSERT INTO shop_member (id, username, uid, client_secret, bio, email, phone, ip) "
                 "SELECT n, 'u' || n, lpad(to_hex(n), 32, '0')::uuid, 's', '', 'm' || n || '@x.example', "
                 "'+44 7' || lpad(n::text, 9, '0'), ('10.' || n / 65536 || '.' || MOD(n / 256, 256) || '.' || "
                 f"MOD(n, 256))::inet FROM generate_series(1, {count}) AS n")


def test_phone_ip_and_email_stay_unique_on_a_unique_column_with_many_rows(members):
    count = 30_000  # phone had 10^6 outputs (~450 collisions expected here), ip 254
    _seed_many(members, count)
    rules = {**MEMBER_RULES, "shop.Member": {**MEMBER_RULES["shop.Member"], "phone": "phone", "ip": "ip",
                                             "email": "email", "username": "hash", "uid": "uuid"}}
    report = mask_clone(members.params, rules, KEY, batch_size=10_000)
    assert report.ok, report.verification
    (distinct,) = members.query("SELECT COUNT(DISTINCT phone), COUNT(DISTINCT ip), COUNT(DISTINCT email), "
                                "COUNT(DISTINCT uid) FROM shop_member")
    assert distinct == (count,) * 4
    key = Key(KEY)
    for pk, phone, ip, email in rows(members, "shop_member", "phone, ip, email")[:50]:
        assert phone == expected_phone(key, f"+44 7{pk:09d}")
        assert str(ip) == expected_ip(key, f"10.{pk // 65536}.{pk // 256 % 256}.{pk % 256}")
        assert email == expected_email(key, f"m{pk}@x.example")


def test_a_unique_column_too_short_for_the_rule_is_a_check_error(member_models, settings):
    from devdb.checks import check_masking

    Member, _contact = member_models
    phone = Member._meta.get_field("phone")
    old = phone.max_length
    phone.max_length = 20
    try:
        settings.DEVDB = {**settings.DEVDB, "MASKING": {"shop.Member": {"phone": "phone"}}}
        found = [(e.id, e.msg) for e in check_masking() if e.id.startswith("devdb.E")]
        assert found == [("devdb.E032", "DEVDB['MASKING']['shop.Member']['phone']: 'phone' needs 28 characters "
                                        "to keep a unique column unique (max_length is 20)")]
    finally:
        phone.max_length = old


def test_the_same_value_masks_the_same_in_every_table_and_on_both_engines(request, member_models, settings):
    source = people()
    outputs = {}
    for vendor in ("mysql", "postgresql"):
        db = only(settings, MemberDatabase(vendor, server(request, vendor), member_models))
        try:
            db.add(source)
            assert mask_clone(db.params, MEMBER_RULES, KEY, batch_size=16).ok
            member = rows(db, "shop_member", "email, phone, ip, username, uid, client_secret, profile")
            contact = rows(db, "shop_contact", "email, phone, ip")
            outputs[vendor] = [(email, phone, str(ip), username, uuid.UUID(str(uid)), secret, as_json(profile))
                               for _pk, email, phone, ip, username, uid, secret, profile in member]
            # a unique column (member) and a plain one (contact): the same value, the same mask
            assert [(m[1], m[2], str(m[3])) for m in member] == [(c[1], c[2], str(c[3])) for c in contact]
        finally:
            db.drop()
    assert outputs["mysql"] == outputs["postgresql"]
    key = Key(KEY)
    assert [row[2] for row in outputs["mysql"]] == [expected_ip(key, p["ip"]) for p in source]  # v4 and v6 inputs


# --- one HMAC per row per column ------------------------------------------------------------------


def test_each_hmac_is_computed_once_per_row(shop):
    from devdb.masking.apply import connection_for

    with connection_for(shop.params) as alias:
        masking = Masking(alias, RULES, Key(KEY))
        (customer,) = [t for t in masking.tables if t.table == "shop_customer"]
        sql, _params = masking.update_sql(customer)
    sha = "SHA2(" if shop.vendor == "mysql" else "encode(sha256("
    # email, first_name, last_name, phone, notes, last_login_ip and the primary key (shift_date): 7 HMACs,
    # though first_name, last_name and phone use theirs two or three times
    assert sql.count(sha) == 7 * (2 if shop.vendor == "mysql" else 1)
    assert len(re.findall(r"devdb_h\d+", sql)) > 14
    report = mask_clone(shop.params, RULES, KEY)
    assert report.ok, report.verification


# --- workers ---------------------------------------------------------------------------------------


def test_two_workers_mask_as_one_does_and_resume_after_a_kill(shop):
    assert mask_clone(shop.params, RULES, KEY, batch_size=40, workers=1).ok
    reference = shop.snapshot()
    shop.reset(300)
    batches = []

    def kill_after_four(text):  # every worker dies at its next batch once four batches are done
        batches.append(text)
        if len(batches) >= 4:
            raise Killed()

    with pytest.raises(Killed):
        mask_clone(shop.params, RULES, KEY, batch_size=40, workers=2, echo=kill_after_four)
    ranges = shop.query("SELECT table_name, last_pk, done FROM devdb_masking_progress "
                        "WHERE table_name LIKE 'shop_customer#%%' ORDER BY table_name")
    assert [name for name, _l, _d in ranges] == ["shop_customer#1", "shop_customer#2"]
    assert all(done == 0 for _n, _l, done in ranges)
    (masked,) = shop.query("SELECT COUNT(*) FROM shop_customer WHERE email LIKE %s", ["%@example.invalid"])[0]
    assert 4 * 30 <= masked < 300
    assert not verify(shop.params, RULES, KEY)["ok"]
    report = mask_clone(shop.params, RULES, KEY, batch_size=40, workers=2)
    assert report.ok, report.verification
    assert report.tables[0]["resumed"].startswith("after id ") and report.tables[0]["rows"] == 300
    assert shop.snapshot() == reference  # each row masked once, as one worker masks it
    again = mask_clone(shop.params, RULES, KEY, workers=2)
    assert again.ok and all(t["resumed"] == "already done" for t in again.tables)
    assert shop.snapshot() == reference


def test_ranges_assigned_by_two_workers_are_finished_by_one(shop):
    assert mask_clone(shop.params, RULES, KEY, batch_size=40, workers=1).ok
    reference = shop.snapshot()
    shop.reset(300)
    calls = []

    def kill_after_two(text):
        calls.append(text)
        if len(calls) >= 2:
            raise Killed()

    with pytest.raises(Killed):
        mask_clone(shop.params, RULES, KEY, batch_size=40, workers=2, echo=kill_after_two)
    assert mask_clone(shop.params, RULES, KEY, batch_size=40, workers=1).ok
    assert shop.snapshot() == reference


def test_mask_devdb_takes_workers(shop, capsys, settings, monkeypatch):
    monkeypatch.setenv("DEVDB_MASKING_KEY", KEY)
    settings.DEVDB = {**settings.DEVDB, "MASKING": RULES}
    call_command("mask_devdb", "--url", shop.url, "--workers", "2", "--batch-size", "50")
    out = capsys.readouterr().out
    assert "verification passed" in out
    assert shop.query("SELECT COUNT(*) FROM devdb_masking_progress WHERE table_name LIKE 'shop_customer#%%'")[0][0] == 2
