"""devdb.signals: clone_ready, clone_connected, clone_deleted, with their documented arguments."""

import pytest

from devdb import signals
from devdb.engine import Engine

pytestmark = pytest.mark.django_db(databases="__all__")

DAY1, DAY2 = "dev-20261122", "dev-20261123"


@pytest.fixture
def received():
    """(signal name, kwargs) of every devdb signal sent while the test runs."""
    log = []
    receivers = {}
    for name in ("clone_ready", "clone_connected", "clone_deleted"):
        def receiver(sender, signal, _name=name, **kwargs):
            assert sender is Engine
            log.append((_name, kwargs))
        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield log
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def test_two_mornings_of_refresh_send_ready_connected_deleted(aws, make_engine, clock, received):
    make_engine().refresh()
    endpoint1 = aws.cluster(DAY1)["Endpoint"]
    assert received == [
        ("clone_ready", {"target": "dev", "cluster_id": DAY1, "endpoint": endpoint1}),
        ("clone_connected", {"target": "dev", "cluster_id": DAY1, "endpoint": endpoint1,
                             "record_name": "db.dev.example.com", "previous": []}),
    ]
    received.clear()

    clock.advance(days=1)
    make_engine().refresh()
    endpoint2 = aws.cluster(DAY2)["Endpoint"]
    assert received == [
        ("clone_ready", {"target": "dev", "cluster_id": DAY2, "endpoint": endpoint2}),
        ("clone_connected", {"target": "dev", "cluster_id": DAY2, "endpoint": endpoint2,
                             "record_name": "db.dev.example.com", "previous": [DAY1]}),
        ("clone_deleted", {"target": "dev", "cluster_id": DAY1}),
    ]
    assert aws.record() == endpoint2  # sent after the change, so a receiver sees the new state


def test_receivers_see_the_change_already_made(aws, make_engine, received):
    from devdb.models import CloneRecord

    seen = {}

    def on_connected(sender, cluster_id, **kwargs):
        seen["record"] = CloneRecord.objects.get(cluster_id=cluster_id).state
        seen["dns"] = aws.record()

    signals.clone_connected.connect(on_connected)
    try:
        make_engine().refresh()
    finally:
        signals.clone_connected.disconnect(on_connected)
    assert seen == {"record": "connected", "dns": aws.cluster(DAY1)["Endpoint"]}


def test_no_signals_in_a_dry_run(aws, make_engine, clock, received):
    make_engine(dry_run=True).refresh()
    assert received == []
    make_engine().refresh()
    received.clear()
    clock.advance(days=1)
    outcome = make_engine(dry_run=True).refresh()
    assert any(a.startswith("would ") for a in outcome.actions)
    assert received == []
    assert aws.record() == aws.cluster(DAY1)["Endpoint"]


def test_no_signals_when_there_is_nothing_to_do(aws, make_engine, received):
    make_engine().refresh()
    received.clear()
    make_engine().refresh()  # same day: today's clone is already connected
    assert received == []


def test_the_documented_arguments_match():
    doc = signals.__doc__
    assert "clone_ready: target (str), cluster_id (str), endpoint (str)" in doc
    assert "clone_connected: target, cluster_id, endpoint, record_name (str), previous" in doc
    assert "clone_deleted: target, cluster_id" in doc


def test_a_rollback_sends_clone_connected(aws, make_engine, clock, devdb_settings, received):
    devdb_settings["TARGETS"]["dev"]["KEEP_ABORTED"] = 1
    make_engine().refresh()
    clock.advance(days=1)
    make_engine().refresh()
    received.clear()
    engine = make_engine()
    engine.preflight()
    engine.lookup()
    engine.connect(to=DAY1)
    assert received == [
        ("clone_connected", {"target": "dev", "cluster_id": DAY1, "endpoint": aws.cluster(DAY1)["Endpoint"],
                             "record_name": "db.dev.example.com", "previous": [DAY2]}),
    ]
