"""An Aurora PostgreSQL source goes through the daily cycle: clone, ready (sql probe), post-clone
script, connect, and the next day's clean, with the SQL steps on the real PostgreSQL server.

The clone's endpoint is a fake AWS host name (moto). In-process the only fake is devdb.probes.connect
sending it to 127.0.0.1, as for MySQL clones; the manage.py subprocess gets PGHOSTADDR=127.0.0.1,
which libpq connects to instead of resolving the name. The port is always the clone's own.
"""

from types import SimpleNamespace

import pytest

from devdb import preflight, probes
from devdb.errors import CloneFailed, ConfigError
from devdb.models import CloneEvent, CloneRecord
from tests.project import DAY1, DAY2, devdb_project, tags_of  # noqa: F401 (fixture)

SOURCE = "prod-pg"
MASK = "-- scrub the users\nUPDATE users SET email = 'user' || id || '@example.invalid';\nUPDATE users SET name = 'User ' || id;\n"
FAILS = ("UPDATE users SET email = 'user' || id || '@example.invalid';\nUPDATE no_such_table SET email = NULL;\n"
         "UPDATE users SET name = 'never reached';\n")
MASKED = [(1, "user1@example.invalid", "User 1"), (2, "user2@example.invalid", "User 2")]


def seed_postgresql(rds, source=SOURCE):
    """An Aurora PostgreSQL source cluster with its writer (moto gives it PostgreSQL's port, 5432)."""
    rds.create_db_cluster(DBClusterIdentifier=source, Engine="aurora-postgresql", EngineVersion="16.3",
                          MasterUsername="postgres", MasterUserPassword="prod-password-never-shown",
                          Tags=[{"Key": "team", "Value": "prod"}])
    rds.create_db_instance(DBInstanceIdentifier=f"{source}-1", DBClusterIdentifier=source,
                           DBInstanceClass="db.r6g.large", Engine="aurora-postgresql")


@pytest.fixture
def pg_target(aws, devdb_settings, postgresql_account, monkeypatch, settings, tmp_path):
    """Target `dev` cloning the Aurora PostgreSQL source with the sql probe; the app's DATABASES['default']
    logs in as postgresql_account (its PORT deliberately wrong: the clone's port must win)."""
    seed_postgresql(aws.rds)
    script = tmp_path / "mask.sql"
    script.write_text(MASK)
    devdb_settings["TARGETS"]["dev"].update(SOURCE_CLUSTER=SOURCE, READINESS_PROBE="sql", READY_TIMEOUT=900,
                                            POST_CLONE_SQL=[str(script)])
    default = settings.DATABASES["default"]
    for key, value in (("USER", postgresql_account["user"]), ("PASSWORD", postgresql_account["password"]),
                       ("NAME", postgresql_account["database"]), ("PORT", "1")):
        monkeypatch.setitem(default, key, value)
    return devdb_settings["TARGETS"]["dev"]


@pytest.fixture
def redirect(monkeypatch):
    """Send the clone's endpoint to the PostgreSQL server on 127.0.0.1; return (host, port) asked for."""
    real_connect = probes.connect
    asked = []

    def connect(host, **kwargs):
        asked.append((host, kwargs["port"]))
        return real_connect("127.0.0.1", **kwargs)

    monkeypatch.setattr(probes, "connect", connect)
    return asked


@pytest.mark.postgresql
@pytest.mark.django_db(databases="__all__")
def test_an_aurora_postgresql_source_is_cloned_probed_scripted_connected_and_cleaned(
    aws, pg_target, postgresql_account, redirect, make_engine, clock
):
    make_engine().refresh()

    day1 = aws.cluster("dev-20261122")
    assert day1["Engine"] == "aurora-postgresql" and day1["Port"] == 5432
    endpoint = day1["Endpoint"]
    assert redirect == [(endpoint, 5432), (endpoint, 5432)]  # the sql probe, then the script: the clone itself
    assert postgresql_account["rows"]() == MASKED
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert aws.record() == endpoint
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    events = list(record.events.values_list("to_state", "message"))
    states = [state for state, _ in events]
    assert events.index(("created", f"ran {pg_target['POST_CLONE_SQL'][0]}")) < states.index("ready") < states.index("connected")
    assert "sql probe" in record.events.get(to_state="ready").message

    clock.advance(days=1)
    make_engine().refresh()

    day2 = aws.cluster("dev-20261123")["Endpoint"]
    assert aws.record() == day2
    assert aws.tags("dev-20261123")["devdb:state"] == "connected"
    assert "dev-20261122" not in aws.cluster_ids()  # cleaned (CLEAN_GRACE 0)
    assert CloneRecord.objects.get(cluster_id="dev-20261122").state == "deleted"
    assert redirect[2:] == [(day2, 5432), (day2, 5432)]


@pytest.mark.postgresql
@pytest.mark.django_db(databases="__all__")
def test_a_failing_statement_aborts_the_clone_and_leaves_the_data_and_the_name(
    aws, pg_target, postgresql_account, redirect, make_engine, tmp_path, caplog, capsys
):
    fails = tmp_path / "mask_fails.sql"
    fails.write_text(FAILS)
    pg_target["POST_CLONE_SQL"] = [str(fails)]
    before = postgresql_account["rows"]()

    with pytest.raises(CloneFailed) as info:
        make_engine().refresh()

    assert f"{fails}: statement 2 failed: error (42P01)" in str(info.value)
    assert "no_such_table" in str(info.value) and "\n" not in str(info.value)
    assert postgresql_account["rows"]() == before  # statement 1 rolled back with the script
    assert aws.record() is None
    record = CloneRecord.objects.get(cluster_id="dev-20261122")
    assert "statement 2 failed" in record.events.get(to_state="aborted").message
    out, err = capsys.readouterr()
    texts = [str(info.value), record.last_error, caplog.text, out, err, *CloneEvent.objects.values_list("message", flat=True)]
    assert not [t for t in texts if postgresql_account["password"] in t]


@pytest.mark.django_db(databases="__all__")
def test_other_engines_are_refused_in_one_line(aws, devdb_settings, make_engine):
    aws.rds.create_db_cluster(DBClusterIdentifier="prod-neptune", Engine="neptune", MasterUsername="admin",
                              MasterUserPassword="never-shown-1")
    devdb_settings["TARGETS"]["dev"]["SOURCE_CLUSTER"] = "prod-neptune"
    with pytest.raises(ConfigError) as info:
        make_engine().refresh()
    assert str(info.value) == "SOURCE_CLUSTER: prod-neptune is neptune, not Aurora MySQL or Aurora PostgreSQL"
    assert aws.cluster_ids() == ["prod-aurora", "prod-neptune"]


@pytest.mark.parametrize("version, refused", [("13.4", True), ("13.6", False), ("14.3", False), ("16.3", False)])
def test_db_serverless_needs_aurora_postgresql_13_6(version, refused):
    target = SimpleNamespace(serverless=True, serverless_min_acu=0.5, serverless_max_acu=16)
    source = SimpleNamespace(id=SOURCE, engine="aurora-postgresql", engine_version=version)
    if not refused:
        preflight.check_serverless(target, source)
        return
    with pytest.raises(ConfigError) as info:
        preflight.check_serverless(target, source)
    assert str(info.value) == f"INSTANCE_CLASS: db.serverless needs Aurora PostgreSQL 13.6 or later; source {SOURCE} runs {version}"


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.postgresql
def test_two_mornings_of_refresh_devdb_with_an_aurora_postgresql_source(devdb_project, postgresql_account, tmp_path):
    """`manage.py refresh_devdb` against moto's standalone server; the app's database URL is postgres://
    (its host the stable name, as an app's would be); libpq reaches the clone at 127.0.0.1 (PGHOSTADDR)."""
    script = tmp_path / "mask.sql"
    script.write_text(MASK)
    project = devdb_project(migrate=False, SOURCE_CLUSTER=SOURCE, READINESS_PROBE="sql", READY_TIMEOUT=600,
                            POST_CLONE_SQL=script)
    seed_postgresql(project.rds)
    account = postgresql_account
    project.base_env.update(
        DATABASE_URL=f"postgres://{account['user']}:{account['password']}@db.dev.example.com/{account['database']}",
        PGHOSTADDR="127.0.0.1",
    )
    project.manage("migrate", "--database", "devdb", "--verbosity", "0")

    first = project.refresh(DAY1)
    clusters = project.clusters()
    assert clusters["dev-20261122"]["Engine"] == "aurora-postgresql"
    assert tags_of(clusters["dev-20261122"])["devdb:state"] == "connected"
    assert project.record_value().rstrip(".") == clusters["dev-20261122"]["Endpoint"]
    assert account["rows"]() == MASKED
    assert [to for _, to in project.events("dev-20261122")][-2:] == ["ready", "connected"]

    second = project.refresh(DAY2)
    clusters = project.clusters()
    assert sorted(c for c in clusters if c.startswith("dev-")) == ["dev-20261123"]
    assert tags_of(clusters["dev-20261123"])["devdb:state"] == "connected"
    assert project.record_value().rstrip(".") == clusters["dev-20261123"]["Endpoint"]
    assert project.records()["dev-20261122"]["state"] == "deleted"
    for result in (first, second):
        assert account["password"] not in result.stdout + result.stderr
