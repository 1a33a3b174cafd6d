"""Masking as Aurora PostgreSQL's master user (issue 18, item 5), against the real PostgreSQL server.

On Aurora PostgreSQL the master user is rds_superuser, not a superuser: it masks a table owned by another
role only with that role's grants. Before masking a clone, the engine checks that the master user can
UPDATE every masked column, TRUNCATE every truncated table and CREATE the progress table, and refuses
naming what is missing. Here the master user is a plain (non-superuser) login role on a scratch copy of
the example shop, whose tables a superuser owns.
"""

import uuid

import pytest

from devdb import flavours, probes
from devdb.errors import ProbeError
from devdb.masking import rules
from devdb.masking.apply import mask_clone
from tests.masking_db import SUFFIX, ShopDatabase
from tests.test_masking import RULES

pytestmark = pytest.mark.django_db(databases="__all__")
KEY = "grants-test-key, at least 32 bytes long"
FLAVOUR = flavours.for_engine("aurora-postgresql")


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def shop(postgresql):
    """The shop (owned by the server's superuser) and `master`, a login role granted exactly what masking
    needs; `master.revoke(sql)` takes a grant away."""
    import psycopg

    db = ShopDatabase("postgresql", postgresql)
    db.seed(60)
    name = f"devdb{SUFFIX}_master_{uuid.uuid4().hex[:8]}"
    password = "Pw-" + uuid.uuid4().hex[:12]

    def admin(sql):
        with psycopg.connect(host=postgresql["host"], port=postgresql["port"], user=postgresql["user"],
                             password=postgresql["password"], dbname=db.name, autocommit=True) as conn:
            conn.execute(sql.replace("MASTER", f'"{name}"'))

    admin(f"CREATE ROLE MASTER LOGIN PASSWORD '{password}'")
    admin(f"GRANT CONNECT ON DATABASE {db.name} TO MASTER")
    admin("GRANT USAGE, CREATE ON SCHEMA public TO MASTER")
    admin("GRANT SELECT ON ALL TABLES IN SCHEMA public TO MASTER")  # verification reads every table
    admin("GRANT SELECT, UPDATE ON shop_customer, shop_address TO MASTER")
    admin("GRANT SELECT, TRUNCATE ON django_session TO MASTER")
    database = {"engine": "aurora-postgresql", "host": postgresql["host"], "port": postgresql["port"], "user": name,
                "password": password, "database": db.name}
    try:
        yield db, database, admin
    finally:
        db.drop()
        with psycopg.connect(host=postgresql["host"], port=postgresql["port"], user=postgresql["user"],
                             password=postgresql["password"], dbname=postgresql["database"], autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def check(database):
    FLAVOUR.check_masking_grants(database, rules.resolve(RULES), connect=probes.connect)


def test_a_master_user_with_the_grants_passes_and_can_really_mask(shop):
    db, database, _admin = shop
    assert check(database) is None
    report = mask_clone(database, RULES, KEY)  # as that non-superuser role: the check is not too strict
    assert report.ok
    assert db.query("SELECT count(*) FROM django_session")[0][0] == 0


@pytest.mark.parametrize("revoke, named", [
    ("REVOKE UPDATE ON shop_customer FROM MASTER",
     "UPDATE on shop_customer(email, first_name, last_name, phone, birth_date, notes, last_login_ip)"),
    ("REVOKE TRUNCATE ON django_session FROM MASTER", "TRUNCATE on django_session"),
    ("REVOKE CREATE ON SCHEMA public FROM MASTER", "CREATE on schema public (for devdb_masking_progress)"),
    ("REVOKE SELECT ON shop_order FROM MASTER",  # kept, but verification searches its text for copies
     "SELECT on public.shop_order (verification reads every table)"),
])
def test_a_missing_grant_is_named_before_anything_is_masked(shop, revoke, named):
    db, database, admin = shop
    admin(revoke)
    before = db.snapshot()
    with pytest.raises(ProbeError) as refused:
        check(database)
    message = str(refused.value)
    assert message == (f"masking: master user {database['user']} lacks {named} on the clone (on Aurora it is "
                       "rds_superuser, not a superuser): GRANT them to it on the source (the table owner can), "
                       "then tomorrow's clone has them")
    assert database["password"] not in message
    assert db.snapshot() == before  # nothing changed


def test_a_column_level_grant_is_enough_and_a_missing_column_is_named(shop):
    _db, database, admin = shop
    admin("REVOKE UPDATE ON shop_address FROM MASTER")
    admin("GRANT UPDATE (street, city) ON shop_address TO MASTER")  # not postcode
    with pytest.raises(ProbeError, match=r"lacks UPDATE on shop_address\(postcode\) on the clone"):
        check(database)
    admin("GRANT UPDATE (postcode) ON shop_address TO MASTER")
    assert check(database) is None


def test_an_existing_progress_table_needs_its_own_rights_not_create(shop):
    _db, database, admin = shop
    admin("CREATE TABLE devdb_masking_progress (table_name VARCHAR(255) PRIMARY KEY)")  # made by someone else
    admin("REVOKE CREATE ON SCHEMA public FROM MASTER")
    with pytest.raises(ProbeError, match="lacks SELECT, INSERT, UPDATE, DELETE on devdb_masking_progress on the clone"):
        check(database)
    admin("GRANT SELECT, INSERT, UPDATE, DELETE ON devdb_masking_progress TO MASTER")
    assert check(database) is None


def test_mysql_needs_no_check():
    assert flavours.for_engine("aurora-mysql").check_masking_grants({"host": "nowhere"}, []) is None


@pytest.mark.seed(production=False, engine="aurora-postgresql")
def test_a_refresh_whose_master_user_lacks_a_grant_aborts_the_clone_and_keeps_the_name(
        aws, devdb_settings, shop, make_engine, monkeypatch, settings):
    """The whole morning: the clone of an Aurora PostgreSQL source is sealed, its master user (here the
    role lacking UPDATE on shop_customer) is checked before masking, the clone is aborted naming the grant
    and deleted; nothing was masked and the stable name never moved."""
    from devdb import probes
    from devdb.errors import CloneFailed
    from devdb.models import CloneRecord
    from tests.test_sealed import sg

    db, database, admin = shop
    admin("REVOKE UPDATE ON shop_customer FROM MASTER")
    monkeypatch.setenv("DEVDB_SEAL_PASSWORD", database["password"])
    monkeypatch.setenv("DEVDB_MASKING_KEY", KEY)
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", db.name)
    devdb_settings["MASKING"] = RULES
    devdb_settings["TARGETS"]["dev"].update(MASK=True, MASKING_SECURITY_GROUP_IDS=[sg(aws, "runner")],
                                            VPC_SECURITY_GROUP_IDS=[sg(aws, "app")], MASTER_PASSWORD_ENV="DEVDB_SEAL_PASSWORD")
    real_connect, asked = probes.connect, []

    def connect(host, *, port, user, **kwargs):  # the clone's endpoint and master user "postgres": the role
        asked.append(user)
        return real_connect(database["host"], port=database["port"], user=database["user"], **kwargs)

    monkeypatch.setattr(probes, "connect", connect)
    before = db.snapshot()
    with pytest.raises(CloneFailed) as failed:
        make_engine().refresh()
    assert str(failed.value).startswith(f"clone dev-20261122 aborted: masking: master user postgres lacks UPDATE on "
                                        "shop_customer(email, ")
    assert set(asked) == {"postgres"}  # the clone's MasterUsername
    assert db.snapshot() == before
    assert aws.record() is None and aws.cluster_ids() == ["prod-aurora"]
    assert CloneRecord.objects.get(cluster_id="dev-20261122").state == "deleted"
