"""Black-box: `python manage.py mask_devdb` (project.settings, its DEVDB["MASKING"]) as a subprocess."""

import os
import re

import pytest

from tests.masking_db import ShopDatabase
from tests.project import ROOT, manage

PASSWORD = "Pw-masking-9f3e1b"
PERSONAL = {"shop_customer": ("email", "first_name", "last_name", "phone", "birth_date", "notes", "last_login_ip"),
            "shop_address": ("street", "city", "postcode")}


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def shop_mysql(mariadb):
    """Two identically seeded shop databases on MariaDB, reachable by a user with a password."""
    import MySQLdb

    server = {k: v for k, v in mariadb.items() if k != "database"}
    dbs = [ShopDatabase("mysql", server) for _ in range(2)]
    for db in dbs:
        db.seed(2000)
    conn = MySQLdb.connect(host=server["host"], port=server["port"], user=server["user"], passwd=server["password"])
    cursor = conn.cursor()
    for host in ("localhost", "127.0.0.1", "%"):
        cursor.execute(f"CREATE USER IF NOT EXISTS 'masking_u'@'{host}' IDENTIFIED BY '{PASSWORD}'")
        cursor.execute(f"ALTER USER 'masking_u'@'{host}' IDENTIFIED BY '{PASSWORD}'")
        for db in dbs:
            cursor.execute(f"GRANT ALL ON `{db.name}`.* TO 'masking_u'@'{host}'")
    yield dbs, lambda db: f"mysql://masking_u:{PASSWORD}@{server['host']}:{server['port']}/{db.name}"
    for db in dbs:
        db.drop()
    conn.close()


def mask_devdb(tmp_path, *args, key="black-box key for masking, 32+ bytes"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVDB_", "DJANGO_", "DATABASE_URL"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/app.sqlite3", DEVDB_DATABASE_URL=f"sqlite:///{tmp_path}/devdb.sqlite3",
               DEVDB_MASKING_KEY=key, PYTHONPATH=str(ROOT))
    if "--url" in args:  # masking_u sees both scratch databases: the gate reads (and masks) the one named
        env["DEVDB_MASKING_SCHEMAS"] = args[args.index("--url") + 1].rsplit("/", 1)[-1]
    return manage("mask_devdb", *args, env=env, timeout=300)


def test_mask_devdb_url_leaves_no_personal_value_and_is_repeatable(shop_mysql, tmp_path):
    (first, second), url = shop_mysql
    before = {(t, c): set(map(str, first.column(t, c))) for t, cols in PERSONAL.items() for c in cols}
    before_rows = {"birth_date": first.column("shop_customer", "birth_date")}
    dry = mask_devdb(tmp_path, "--url", url(first), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "UPDATE `shop_customer` JOIN (SELECT `id` AS devdb_pk" in dry.stdout and PASSWORD not in dry.stdout + dry.stderr
    assert first.snapshot() == second.snapshot()  # the dry run changed nothing

    results = [mask_devdb(tmp_path, "--url", url(db)) for db in (first, second)]
    originals = {v for values in before.values() for v in values if len(v) >= 6}
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verification passed" in result.stdout
        assert PASSWORD not in result.stdout + result.stderr
        assert re.search(r"sampled \d+ original values \(held in memory only\) of 10 masked column\(s\): "
                         r"shop_customer\.email \d+, ", result.stdout), result.stdout
        assert re.search(r"searched \d+ text column\(s\) of 3 table\(s\) for \d+ distinct values .*"
                         r"shop_customer \(email, first_name, last_name, phone, notes, last_login_ip\)", result.stdout), result.stdout
        assert "row counts of 4 table(s) compared" in result.stdout
        assert not [v for v in originals if v in result.stdout + result.stderr]  # counts, never values
    for (table, column), originals in before.items():
        masked = list(map(str, first.column(table, column)))
        if column == "birth_date":  # shifted dates are dates: each row's differs from its own source
            assert all(m != o for m, o in zip(masked, map(str, before_rows[column])))
        else:
            assert not set(masked) & originals, f"{table}.{column} still holds source values"
    emails = first.column("shop_customer", "email")
    assert len(set(emails)) == len(emails) == 2000 and all(e.endswith("@example.invalid") for e in emails)
    assert first.snapshot() == second.snapshot()  # the same key gives the same result

    rerun = mask_devdb(tmp_path, "--url", url(first))
    assert rerun.returncode == 0 and "already done" in rerun.stdout
    assert "shop_customer: masked before this run, nothing original left to sample" in rerun.stdout
    assert first.snapshot() == second.snapshot()

    other_key = mask_devdb(tmp_path, "--url", url(first), key="another black-box key, also 32+ bytes")
    assert other_key.returncode == 1 and other_key.stderr.count("\n") == 1, other_key.stderr
    assert "this database was masked with other rules or another key" in other_key.stderr
    assert first.snapshot() == second.snapshot()  # refused: nothing masked twice


def test_a_short_key_is_refused_in_one_line(shop_mysql, tmp_path):
    (first, second), url = shop_mysql
    result = mask_devdb(tmp_path, "--url", url(first), key="short-key")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "DEVDB_MASKING_KEY is too short (9 bytes)" in result.stderr and "short-key" not in result.stderr
    assert first.snapshot() == second.snapshot()


def test_a_wrong_password_fails_in_one_line_without_it(shop_mysql, tmp_path):
    (first, _second), url = shop_mysql
    result = mask_devdb(tmp_path, "--url", url(first).replace(PASSWORD, "Wrong-pw-77aa"))
    assert result.returncode == 1
    assert "Wrong-pw-77aa" not in result.stdout + result.stderr and PASSWORD not in result.stderr
    assert result.stderr.count("\n") == 1 and "masking failed" in result.stderr


def test_check_fails_on_an_undecided_field(tmp_path):
    settings = tmp_path / "undecided_settings.py"
    settings.write_text("from project.settings import *  # noqa\n"
                        "DEVDB['MASKING'] = {**DEVDB['MASKING'], 'shop.Customer': "
                        "{k: v for k, v in DEVDB['MASKING']['shop.Customer'].items() if k != 'notes'}}\n")
    result = mask_devdb(tmp_path, "--check", "--settings", "undecided_settings", "--pythonpath", str(tmp_path))
    assert result.returncode == 1
    assert "shop.Customer.notes: no masking rule" in result.stdout
    assert mask_devdb(tmp_path, "--check").returncode == 0


def test_a_dry_run_needs_no_masking_key_and_shows_none(shop_mysql, tmp_path):
    (first, second), url = shop_mysql
    dry = mask_devdb(tmp_path, "--url", url(first), "--dry-run", key="")
    assert dry.returncode == 0, dry.stderr
    assert "UPDATE `shop_customer` JOIN" in dry.stdout and "<key ipad>" in dry.stdout
    assert "DEVDB_MASKING_KEY" not in dry.stderr
    assert first.snapshot() == second.snapshot()
    real = mask_devdb(tmp_path, "--url", url(first), key="")
    assert real.returncode == 1
    assert real.stderr.strip().splitlines()[-1] == ("mask_devdb: error: DEVDB_MASKING_KEY is not set: masking needs a "
                                                    "secret key (same key -> same masked values)")
    assert first.snapshot() == second.snapshot()
