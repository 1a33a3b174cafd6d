"""DevdbRouter keeps the clone history in the control database, never in the (daily replaced) dev database."""

import pytest
from django.contrib.auth.models import User
from django.db import connections

from devdb.models import CloneEvent, CloneRecord, TargetLease
from devdb.routers import DevdbRouter

DEVDB_MODELS = [CloneRecord, CloneEvent, TargetLease]


@pytest.fixture
def router():
    return DevdbRouter()


@pytest.mark.parametrize("model", DEVDB_MODELS, ids=lambda m: m.__name__)
def test_devdb_models_are_read_and_written_in_the_control_database(router, model):
    assert router.db_for_read(model) == "devdb"
    assert router.db_for_write(model) == "devdb"


@pytest.mark.parametrize("model", DEVDB_MODELS, ids=lambda m: m.__name__)
def test_devdb_models_follow_the_configured_control_alias(router, settings, model):
    settings.DEVDB = {**settings.DEVDB, "DATABASE": "history"}
    assert router.db_for_read(model) == "history"
    assert router.db_for_write(model) == "history"


def test_control_alias_stays_routed_even_when_the_rest_of_devdb_is_broken(router, settings):
    settings.DEVDB = {"DATABASE": "history", "TARGETS": "not a dict"}
    assert router.db_for_write(CloneRecord) == "history"


def test_other_apps_models_are_left_to_the_default_routing(router):
    assert router.db_for_read(User) is None
    assert router.db_for_write(User) is None


@pytest.mark.parametrize("model_name", ["clonerecord", "cloneevent", "targetlease"])
def test_devdb_tables_are_never_migrated_into_the_default_database(router, model_name):
    assert router.allow_migrate("default", "devdb", model_name=model_name) is False
    assert router.allow_migrate("devdb", "devdb", model_name=model_name) is True


@pytest.mark.parametrize("app_label", ["auth", "contenttypes", "admin", "sessions"])
def test_other_apps_are_never_migrated_into_the_control_database(router, app_label):
    assert router.allow_migrate("devdb", app_label) is False
    assert router.allow_migrate("default", app_label) is None


def test_relations_never_cross_between_devdb_and_other_apps(router):
    record, event, user = CloneRecord(), CloneEvent(), User()
    assert router.allow_relation(record, event) is True
    assert router.allow_relation(record, user) is False
    assert router.allow_relation(user, User()) is None


@pytest.mark.django_db(databases="__all__")
def test_the_orm_saves_records_in_the_control_alias(clock):
    record = CloneRecord.objects.create(target="dev", cluster_id="dev-20261122", source="prod-aurora", state="created",
                                        state_since=clock.now(), created_at=clock.now())
    assert record._state.db == "devdb"
    assert CloneRecord.objects.using("devdb").filter(cluster_id="dev-20261122").exists()


@pytest.mark.django_db(databases="__all__")
def test_after_a_refresh_the_history_is_in_the_control_database_only(make_engine):
    make_engine().refresh()
    assert list(CloneRecord.objects.using("devdb").values_list("cluster_id", "state")) == [("dev-20261122", "connected")]
    assert CloneEvent.objects.using("devdb").filter(record__cluster_id="dev-20261122").count() >= 3

    default_tables = connections["default"].introspection.table_names()
    assert "auth_user" in default_tables  # the default database is migrated...
    assert [t for t in default_tables if t.startswith("devdb_")] == []  # ...but holds no devdb table
    control_tables = connections["devdb"].introspection.table_names()
    assert {"devdb_clonerecord", "devdb_cloneevent", "devdb_targetlease"} <= set(control_tables)
    assert "auth_user" not in control_tables
