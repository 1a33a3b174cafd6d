"""MASK (sealed until masked) and MIGRATE_BEFORE_CONNECT in the daily refresh, on the real MariaDB server.

The clone is moto's; the database it "is" is a scratch database on the MariaDB server seeded with the
example shop. The only fakes send the clone's endpoint (and its master user `admin`) to that server:
devdb.probes.connect (the master login check) and devdb.connections.django_settings (masking and
migrations connect through Django). Every AWS call is recorded (tests/test_policy.py's `recorded`) so the
printed IAM policy is checked against the masked flow too.
"""

import io
import logging
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections as django_connections
from django.test import override_settings

from devdb import connections, history, probes
from devdb.masking import apply as masking_apply
from tests.conftest import START
from tests.masking_db import ShopDatabase
from tests.test_masking import RULES
from tests.test_policy import printed_policy, recorded, refusals  # noqa: F401  (recorded: a fixture)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]
PASSWORD = "Seal-" + uuid.uuid4().hex[:12]
KEY = "seal-test-key-with-32-bytes-or-more"


def sg(aws, name):
    ec2 = __import__("boto3").client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    return ec2.create_security_group(GroupName=f"{name}-{uuid.uuid4().hex[:6]}", Description=name, VpcId=vpc)["GroupId"]


def groups(aws, cluster_id):
    return sorted(g["VpcSecurityGroupId"] for g in aws.rds.describe_db_clusters(
        DBClusterIdentifier=cluster_id)["DBClusters"][0]["VpcSecurityGroups"])


def points_at(aws):
    sets = aws.route53.list_resource_record_sets(HostedZoneId=aws.zone_id)["ResourceRecordSets"]
    values = [r["ResourceRecords"][0]["Value"] for r in sets if r["Type"] == "CNAME"]
    return values[0].split(".")[0] if values else None


@pytest.fixture(autouse=True)
def temporary_aliases(monkeypatch):
    """Django's test case refuses aliases it did not know at its start; connection_for's temporary
    aliases (devdb_*) are made later, for the clone: let them connect."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    patched = BaseDatabaseWrapper.ensure_connection
    cells = [c.cell_contents for c in patched.__closure__ or ()]
    real = next((c for c in cells if getattr(c, "__name__", "") == "ensure_connection"), patched)

    def ensure_connection(self, *args, **kwargs):
        return (real if self.alias.startswith("devdb_") else patched)(self, *args, **kwargs)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)


@pytest.fixture
def shop(mariadb, monkeypatch, settings):
    """The shop database the clone stands for, a master login to it, and the redirects."""
    import MySQLdb

    server = {k: v for k, v in mariadb.items() if k != "database"}
    db = ShopDatabase("mysql", server)
    db.seed(120)
    master = f"seal_m_{uuid.uuid4().hex[:8]}"
    root = MySQLdb.connect(host=mariadb["host"], port=mariadb["port"], user=mariadb["user"], passwd=mariadb["password"])
    root.autocommit(True)
    for host in ("%", "localhost", "127.0.0.1"):
        root.cursor().execute(f"CREATE USER '{master}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (PASSWORD,))
        root.cursor().execute(f"GRANT ALL ON `{db.name}`.* TO '{master}'@'{host}'")
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", db.name)
    monkeypatch.setenv("DEVDB_SEAL_PASSWORD", PASSWORD)
    monkeypatch.setenv("DEVDB_MASKING_KEY", KEY)
    db.asked = []

    def to_server(host, user):
        if host and "rds.amazonaws.com" in host:
            db.asked.append((host, user))
            return mariadb["host"], mariadb["port"], master if user == "admin" else user
        return host, None, user

    real_connect, real_settings = probes.connect, connections.django_settings

    def connect(host, *, port, user, **kwargs):
        host, real_port, user = to_server(host, user)
        return real_connect(host, port=real_port or port, user=user, **kwargs)

    def django_settings(database):
        if isinstance(database, dict):
            host, real_port, user = to_server(database.get("host"), database.get("user"))
            database = {**database, "host": host, "port": real_port or database.get("port"), "user": user}
        return real_settings(database)

    monkeypatch.setattr(probes, "connect", connect)
    monkeypatch.setattr(connections, "django_settings", django_settings)
    try:
        yield db
    finally:
        for host in ("%", "localhost", "127.0.0.1"):
            root.cursor().execute(f"DROP USER IF EXISTS '{master}'@'{host}'")
        root.close()
        db.drop()


@pytest.fixture
def masked(aws, devdb_settings, shop, recorded):  # noqa: F811
    app, runner = sg(aws, "app"), sg(aws, "runner")
    devdb_settings["MASKING"] = RULES
    devdb_settings["TARGETS"]["dev"].update(MASK=True, MASKING_SECURITY_GROUP_IDS=[runner],
                                            VPC_SECURITY_GROUP_IDS=[app], MASTER_PASSWORD_ENV="DEVDB_SEAL_PASSWORD")
    return {"app": app, "runner": runner}


def day(clock, n):
    clock.moment = START + timedelta(days=n)
    return f"dev-{(START + timedelta(days=n)):%Y%m%d}"


def test_a_masked_refresh_masks_verifies_unseals_and_only_then_moves_the_name(aws, masked, shop, clock, recorded,  # noqa: F811
                                                                               monkeypatch, admin_client):
    seen = []
    real_mask = masking_apply.mask_clone

    def watched(database, *args, **kwargs):
        seen.append((groups(aws, clone), points_at(aws)))  # while it is masked: sealed, name elsewhere
        return real_mask(database, *args, **kwargs)

    monkeypatch.setattr("devdb.engine.sealed.mask_clone", watched)
    before = shop.snapshot()["shop_customer"]
    clone = day(clock, 0)
    out = io.StringIO()
    call_command("refresh_devdb", "--dry-run", stdout=out)
    planned = out.getvalue()
    assert "sealed until masked (security groups " + masked["runner"] in planned
    assert f"would mask {clone}" in planned and f"would give {clone} the app's security groups {masked['app']}" in planned

    call_command("refresh_devdb", stdout=io.StringIO())

    assert seen == [([masked["runner"]], None)]
    assert {user for _host, user in shop.asked} == {"admin"}  # the clone's MasterUsername
    modify = [c[2] for c in recorded if c[1] == "ModifyDBCluster" and "VpcSecurityGroupIds" in c[2]]
    assert modify == [{"DBClusterIdentifier": clone, "VpcSecurityGroupIds": [masked["app"]], "ApplyImmediately": True}]
    restore = next(c[2] for c in recorded if c[1] == "RestoreDBClusterToPointInTime")
    assert restore["VpcSecurityGroupIds"] == [masked["runner"]]
    assert groups(aws, clone) == [masked["app"]] and points_at(aws) == clone
    after = shop.snapshot()["shop_customer"]
    assert all(a[1] != b[1] and a[1].endswith("@example.invalid") for a, b in zip(after, before))
    record = history.find(clone)
    assert record.state == "connected" and record.masking["verification"]["ok"]
    messages = [e.message for e in record.events.order_by("at", "pk")]
    masked_at = next(i for i, m in enumerate(messages) if m.startswith("masked and verified"))
    unsealed_at = next(i for i, m in enumerate(messages) if "security groups" in m)
    connected_at = next(i for i, m in enumerate(messages) if "points here" in m)
    assert masked_at < unsealed_at < connected_at
    html = admin_client.get("/admin/devdb/clonerecord/").content.decode()
    assert "devdb-masked" in next(r for r in html.split("<tbody", 1)[1].split("<tr") if clone in r)
    # The printed policy allows every call the masked flow made.
    assert not refusals(printed_policy("--from-aws"), recorded, aws)


def test_a_failed_verification_aborts_the_clone_at_warning_and_the_name_stays(aws, masked, shop, clock, devdb_settings,
                                                                              caplog, recorded):  # noqa: F811
    yesterday = day(clock, 0)
    call_command("refresh_devdb", stdout=io.StringIO())
    assert points_at(aws) == yesterday
    shop.reset(120)  # today's clone: production's data again
    keeps = {**RULES, "shop.Customer": {**RULES["shop.Customer"], "first_name": lambda column: column.sql}}
    devdb_settings["MASKING"] = keeps
    today = day(clock, 1)
    with caplog.at_level(logging.INFO, logger="devdb"), pytest.raises(CommandError):
        call_command("refresh_devdb", stdout=io.StringIO())
    assert points_at(aws) == yesterday
    assert not [c for c in recorded if c[1] == "ModifyDBCluster" and c[2]["DBClusterIdentifier"] == today
                and "VpcSecurityGroupIds" in c[2]]  # never unsealed (and, aborted, deleted by clean)
    record = history.find(today)
    assert record.aborted_at and "masking did not verify" in record.last_error
    assert "first_name" in record.last_error and record.masking["verification"]["ok"] is False
    aborts = [r for r in caplog.records if f"tag {today} aborted (failed: masking did not verify" in r.getMessage()]
    assert aborts and all(r.levelno == logging.WARNING for r in aborts)


def refresh_killed_after_the_first_table(monkeypatch):
    """A refresh_devdb whose runner is killed mid-masking (KeyboardInterrupt as the second table starts);
    returns the real Masking._mask_table, still patched out."""
    real = masking_apply.Masking._mask_table
    calls = {"n": 0}

    def killed_after_the_first_table(self, table, echo):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the runner is killed mid-masking
        return real(self, table, echo)

    monkeypatch.setattr(masking_apply.Masking, "_mask_table", killed_after_the_first_table)
    with pytest.raises((KeyboardInterrupt, CommandError)):
        call_command("refresh_devdb", stdout=io.StringIO())
    return real


def test_a_run_killed_during_masking_is_finished_by_the_next(aws, masked, shop, clock, monkeypatch):
    clone = day(clock, 0)
    real = refresh_killed_after_the_first_table(monkeypatch)
    assert groups(aws, clone) == [masked["runner"]] and points_at(aws) is None
    assert not (history.find(clone).masking or {})
    monkeypatch.setattr(masking_apply.Masking, "_mask_table", real)
    call_command("refresh_devdb", stdout=io.StringIO())
    record = history.find(clone)
    assert record.state == "connected" and record.masking["verification"]["ok"]
    assert any(t.get("resumed") == "already done" for t in record.masking["tables"])
    assert groups(aws, clone) == [masked["app"]] and points_at(aws) == clone


def test_a_resume_with_another_key_aborts_the_clone_and_masks_nothing_twice(aws, masked, shop, clock, monkeypatch,
                                                                             recorded):  # noqa: F811
    clone = day(clock, 0)
    real = refresh_killed_after_the_first_table(monkeypatch)
    monkeypatch.setattr(masking_apply.Masking, "_mask_table", real)
    half = shop.snapshot()
    monkeypatch.setenv("DEVDB_MASKING_KEY", "another key for the same clone, 32+ bytes")
    with pytest.raises(CommandError):
        call_command("refresh_devdb", stdout=io.StringIO())
    record = history.find(clone)
    assert record.aborted_at and "this database was partly masked with other rules or another key" in record.last_error
    assert KEY not in record.last_error and "another key for" not in record.last_error
    assert points_at(aws) is None and not [c for c in recorded if c[1] == "ModifyDBCluster" and "VpcSecurityGroupIds"
                                           in c[2]]  # never unsealed (aborted, then deleted), the name never moved
    assert shop.snapshot() == half  # nothing masked twice


def test_connect_refuses_a_clone_of_a_mask_target_without_a_verified_report(aws, devdb_settings, clock, masked):
    devdb_settings["TARGETS"]["dev"].update(MASK=False, KEEP_ABORTED=1)
    unmasked = day(clock, 0)
    call_command("refresh_devdb", stdout=io.StringIO())
    day(clock, 1)
    call_command("refresh_devdb", stdout=io.StringIO())  # yesterday's is kept for a rollback
    devdb_settings["TARGETS"]["dev"]["MASK"] = True
    with pytest.raises(CommandError, match=f"{unmasked} has no verified masking report"):
        call_command("connect_devdb", "--to", unmasked)


# --- MIGRATE_BEFORE_CONNECT ------------------------------------------------------------------------

MIGRATION_APPS = ["django.contrib.contenttypes", "devdb", "tests.rehearsal_app"]


@pytest.fixture
def app_database(mariadb, monkeypatch, settings, shop, clock):
    """DATABASES['default'] (the app's login) is root on a fresh database of the MariaDB server holding
    rehearsal_app's 0001 with rows; the clone stands for a copy of it: another database (the redirect sends
    the clone's endpoint there). Yields the clone's connection parameters; .app are the default's."""
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    # The migrate child process loads the project's settings module: the one with rehearsal_app.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.rehearsal_app.settings")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    suffix = uuid.uuid4().hex[:8]
    name, clone = f"test_seal_mig_{suffix}", f"test_seal_clone_{suffix}"
    shop.query(f"CREATE DATABASE {name}")
    shop.query(f"CREATE DATABASE {clone}")
    for key, value in (("NAME", name), ("USER", mariadb["user"]), ("PASSWORD", mariadb["password"]),
                       ("PORT", str(mariadb["port"]))):
        monkeypatch.setitem(settings.DATABASES["default"], key, value)
    params = {"vendor": "mysql", "host": mariadb["host"], "port": mariadb["port"], "user": mariadb["user"],
              "password": mariadb["password"]}
    redirected = connections.django_settings

    def to_clone(database):
        config = redirected(database)
        if isinstance(database, dict) and "rds.amazonaws.com" in str(database.get("host")) and config["NAME"] == name:
            config = {**config, "NAME": clone}
        return config

    monkeypatch.setattr(connections, "django_settings", to_clone)
    databases = DatabasePair({**params, "database": clone}, {**params, "database": name})
    try:
        with override_settings(INSTALLED_APPS=MIGRATION_APPS):
            for db in (databases.app, databases):
                with connections.connection_for(db) as alias:
                    call_command("migrate", "rehearsal_app", "0001", database=alias, verbosity=0)
                    with django_connections[alias].cursor() as cursor:
                        cursor.execute("INSERT INTO rehearsal_app_item (code) VALUES ('a'), ('b')")
            yield databases
    finally:
        shop.query(f"DROP DATABASE IF EXISTS {name}")
        shop.query(f"DROP DATABASE IF EXISTS {clone}")


class DatabasePair(dict):
    """The clone's connection parameters, with the app's default database's as .app."""

    def __init__(self, clone, app):
        super().__init__(clone)
        self.app = app


def applied(params):
    with connections.connection_for(params) as alias, django_connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations WHERE app = 'rehearsal_app'")
        return {name for _app, name in cursor.fetchall()}


def dump(params):
    """Every row of every table of a database, for a byte-for-byte comparison."""
    with connections.connection_for(params) as alias, django_connections[alias].cursor() as cursor:
        cursor.execute("SHOW TABLES")
        tables = sorted(row[0] for row in cursor.fetchall())
        rows = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM `{table}`")
            rows[table] = sorted(map(repr, cursor.fetchall()))
        return rows


def test_migrate_before_connect_applies_this_codes_migrations_to_the_clone_only(aws, devdb_settings, clock,
                                                                             app_database):
    devdb_settings["TARGETS"]["dev"]["MIGRATE_BEFORE_CONNECT"] = True
    before = dump(app_database.app)
    clone = day(clock, 0)
    call_command("refresh_devdb", stdout=io.StringIO())
    assert applied(app_database) == {"0001_initial", "0002_item_note", "0003_item_code_unique", "0004_item_size",
                                     "0005_item_note_via_manager", "0006_item_size_via_cursor"}
    with connections.connection_for(app_database) as alias, django_connections[alias].cursor() as cursor:
        cursor.execute("SELECT code, note, size FROM rehearsal_app_item ORDER BY code")
        assert cursor.fetchall() == (("a", "via manager, signal", 7), ("b", "via manager, signal", 7))
    assert dump(app_database.app) == before  # DATABASES['default']: rows and django_migrations untouched
    record = history.find(clone)
    assert record.state == "connected" and points_at(aws) == clone
    assert any(e.message.startswith("migrated: ") for e in record.events.all())


def test_a_failing_migration_aborts_the_clone_named_and_the_name_stays(aws, devdb_settings, clock, app_database):
    yesterday = day(clock, 0)
    call_command("refresh_devdb", stdout=io.StringIO())
    with connections.connection_for(app_database) as alias, django_connections[alias].cursor() as cursor:
        cursor.execute("INSERT INTO rehearsal_app_item (code) VALUES ('same'), ('same')")  # 0003 makes code unique
    devdb_settings["TARGETS"]["dev"]["MIGRATE_BEFORE_CONNECT"] = True
    today = day(clock, 1)
    with pytest.raises(CommandError, match="rehearsal_app.0003_item_code_unique"):
        call_command("refresh_devdb", stdout=io.StringIO())
    record = history.find(today)
    assert record.aborted_at and "MIGRATE_BEFORE_CONNECT: migration rehearsal_app.0003_item_code_unique failed" in record.last_error
    assert points_at(aws) == yesterday


# --- issue 16: the gate reads the clone, everything touching data runs while sealed ----------------

def test_a_clone_with_an_undecided_table_stays_sealed_is_aborted_naming_it_and_the_name_stays(  # noqa: F811
        aws, masked, shop, clock, recorded):
    yesterday = day(clock, 0)
    call_command("refresh_devdb", stdout=io.StringIO())
    assert points_at(aws) == yesterday
    shop.reset(120)  # today's clone: production's data again, now with a table and a column no model declares
    shop.query("CREATE TABLE legacy_contacts (id INT PRIMARY KEY, contact_name VARCHAR(100), phone VARCHAR(32))")
    shop.query("INSERT INTO legacy_contacts VALUES (1, 'Ada Lovelace', '+44 20 7946 0001')")
    shop.query("ALTER TABLE shop_customer ADD COLUMN loyalty_card VARCHAR(32) NULL")
    before = shop.snapshot()
    today = day(clock, 1)
    with pytest.raises(CommandError):
        call_command("refresh_devdb", stdout=io.StringIO())
    record = history.find(today)
    assert record.aborted_at and "masking refused, 2 undecided: " in record.last_error
    assert "legacy_contacts (no decision: 3 column(s))" in record.last_error
    assert "shop_customer.loyalty_card" in record.last_error
    assert not [c for c in recorded if c[1] == "ModifyDBCluster" and c[2]["DBClusterIdentifier"] == today
                and "VpcSecurityGroupIds" in c[2]]  # never unsealed (and, aborted, deleted by clean)
    assert points_at(aws) == yesterday
    assert shop.snapshot() == before  # refused before the first change


def test_post_clone_sql_runs_on_masked_data_while_still_sealed(aws, masked, shop, clock, devdb_settings, tmp_path,
                                                               monkeypatch, settings):
    script = tmp_path / "after.sql"
    script.write_text("UPDATE shop_customer SET notes = 'post-clone ran' WHERE id = 1;\n")
    devdb_settings["TARGETS"]["dev"]["POST_CLONE_SQL"] = [str(script)]
    monkeypatch.setitem(settings.DATABASES["default"], "USER", "admin")  # the app's login, sent to the shop database
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", PASSWORD)
    seen = []
    real_run = probes.run_script

    def watched(host, path, **kwargs):
        seen.append((groups(aws, clone), points_at(aws)))
        return real_run(host, path, **kwargs)

    monkeypatch.setattr(probes, "run_script", watched)
    clone = day(clock, 0)
    call_command("refresh_devdb", stdout=io.StringIO())
    assert seen == [([masked["runner"]], None)]  # sealed, the name elsewhere, while the script ran
    assert shop.query("SELECT notes FROM shop_customer WHERE id = 1")[0][0] == "post-clone ran"  # after masking
    messages = [e.message for e in history.find(clone).events.order_by("at", "pk")]
    ran = next(i for i, m in enumerate(messages) if m.startswith("ran "))
    assert next(i for i, m in enumerate(messages) if m.startswith("masked and verified")) < ran
    assert ran < next(i for i, m in enumerate(messages) if "security groups" in m)
    assert groups(aws, clone) == [masked["app"]] and points_at(aws) == clone


def test_masking_groups_shared_with_the_apps_groups_are_refused_in_one_line(aws, masked, devdb_settings, recorded):  # noqa: F811
    devdb_settings["TARGETS"]["dev"]["MASKING_SECURITY_GROUP_IDS"] = [masked["runner"], masked["app"]]
    with pytest.raises(CommandError) as caught:
        call_command("refresh_devdb", stdout=io.StringIO())
    assert "MASKING_SECURITY_GROUP_IDS" in str(caught.value) and "VPC_SECURITY_GROUP_IDS" in str(caught.value)
    assert masked["app"] in str(caught.value) and str(caught.value).count("\n") == 0
    # Without VPC_SECURITY_GROUP_IDS the clone gets the source's groups: those must not be the sealed ones.
    source = devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"]
    source_groups = groups(aws, source)
    assert source_groups
    devdb_settings["TARGETS"]["dev"].pop("VPC_SECURITY_GROUP_IDS")
    devdb_settings["TARGETS"]["dev"]["MASKING_SECURITY_GROUP_IDS"] = [masked["runner"], source_groups[0]]
    with pytest.raises(CommandError) as caught:
        call_command("refresh_devdb", stdout=io.StringIO())
    assert f"MASKING_SECURITY_GROUP_IDS: {source_groups[0]} is also a security group of source" in str(caught.value)
    assert not [c for c in recorded if c[1] == "RestoreDBClusterToPointInTime"]  # refused before any change


def test_migrate_before_connect_refuses_a_clone_that_is_the_default_database(aws, devdb_settings, clock, app_database,
                                                                            monkeypatch, settings):
    """Should the clone's address ever be the app's own default database, nothing is migrated there."""
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.mysql")
    monkeypatch.setitem(settings.DATABASES["default"], "HOST", "LocalHost")  # the clone is sent to 127.0.0.1
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", app_database["database"])
    devdb_settings["TARGETS"]["dev"]["MIGRATE_BEFORE_CONNECT"] = True
    before = dump(app_database)
    clone = day(clock, 0)
    with pytest.raises(CommandError, match=r"refusing to migrate mysql://127\.0\.0\.1:\d+/test_seal_clone_\w+: it is "
                                           r"this process's own default database \(DATABASES\['default'\]\)"):
        call_command("refresh_devdb", stdout=io.StringIO())
    assert dump(app_database) == before and points_at(aws) is None
    assert "refusing to migrate" in history.find(clone).last_error
