"""The clone history in the admin: read-only, badges, the "points now" banner, timeline, scale."""

import os
import re
import socket
from html import unescape
from datetime import datetime, timedelta, timezone

import botocore.client
import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone as dj_timezone

from devdb import history
from devdb.admin import console_url, format_duration, time_text, where_names_point
from devdb.models import CloneEvent, CloneRecord, TargetLease

pytestmark = pytest.mark.django_db(databases="__all__")

LIST = reverse("admin:devdb_clonerecord_changelist")
T0 = datetime(2026, 11, 16, 5, 0, 3, tzinfo=timezone.utc)


def change_url(record):
    return reverse("admin:devdb_clonerecord_change", args=[record.pk])


def endpoint(cluster_id):
    return f"{cluster_id}.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com"


def mirror(target, cluster_id, state, at, **kwargs):
    return history.mirror(target=target, cluster_id=cluster_id, state=state, at=at, source="prod-aurora",
                          instance_id=f"{cluster_id}-1", endpoint=endpoint(cluster_id), **kwargs)


def day_of_clones(target, day, at, *, previous=None, fail=False):
    """What one morning's refresh records: created -> ready -> connected, yesterday's aborted+deleted."""
    cid = f"{target}-{(T0 + timedelta(days=day)).strftime('%Y%m%d')}"
    mirror(target, cid, "created", at, message="restored from prod-aurora (copy-on-write)")
    if fail:
        reason = "did not become available within READY_TIMEOUT (3600s)"
        mirror(target, cid, "aborted", at + timedelta(hours=1), message=f"failed: {reason}", error=reason)
        return None
    mirror(target, cid, "ready", at + timedelta(minutes=11), message="usable (status probe)")
    mirror(target, cid, "connected", at + timedelta(minutes=12), message="db.dev.example.com points here")
    if previous:
        mirror(target, previous, "aborted", at + timedelta(minutes=12), message=f"superseded by {cid}")
        mirror(target, previous, "deleted", at + timedelta(minutes=15), message="deleted (SkipFinalSnapshot)")
    return cid


@pytest.fixture
def week():
    """dev: five mornings (the fourth failed), qa: two; the newest of each is connected."""
    previous = None
    for day in range(5):
        cid = day_of_clones("dev", day, T0 + timedelta(days=day), previous=previous, fail=day == 3)
        previous = cid or previous
    qa = None
    for day in (3, 4):
        qa = day_of_clones("qa", day, T0 + timedelta(days=day, minutes=30), previous=qa)
    return CloneRecord.objects.all()


@pytest.fixture
def aws_calls_refused(monkeypatch):
    """Any AWS API call fails the test."""

    def refuse(self, operation, params):
        raise AssertionError(f"the admin called AWS: {operation}")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)


def rows(html):
    return re.findall(r'<tr[^>]*>.*?</tr>', html.split('id="result_list"', 1)[1], flags=re.S)[1:]


# --- the list ---------------------------------------------------------------------------------------


def test_changelist_shows_badges_times_live_for_and_endpoint(admin_client, week, aws_calls_refused):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    for state in ("connected", "failed", "deleted"):
        assert f'devdb-badge devdb-state-{state}' in html
    assert html.count('class="devdb-badge devdb-state-connected">\u25cf connected</span>') >= 2  # rows (+ banner)
    body = rows(html)
    assert len(body) == CloneRecord.objects.count() == 7
    newest = next(r for r in body if "dev-20261120" in r)
    assert "devdb-state-connected" in newest and 'class="devdb-live devdb-live-now"' in newest
    day1 = next(r for r in body if "dev-20261116" in r)
    assert "devdb-state-deleted" in day1
    assert ">1d 0h<" in day1  # connected 05:12 on the 16th until superseded 05:12 on the 17th
    times = re.findall(r'<td class="field-(\w+)"><time datetime="([^"]+)"[^>]*>([^<]+)</time>', day1)
    assert [(field, at[:16]) for field, at, _ in times] == [
        ("created", "2026-11-16T05:00"), ("ready", "2026-11-16T05:11"), ("connected", "2026-11-16T05:12"),
        ("aborted", "2026-11-17T05:12"), ("deleted", "2026-11-17T05:15")]
    # one format for every time: date, time with seconds, UTC (it may wrap after the date, not inside the time)
    assert [text for _, _, text in times] == [
        "2026-11-16 05:00:03\xa0UTC", "2026-11-16 05:11:03\xa0UTC", "2026-11-16 05:12:03\xa0UTC",
        "2026-11-17 05:12:03\xa0UTC", "2026-11-17 05:15:03\xa0UTC"]
    assert endpoint("dev-20261116") in day1
    failed = next(r for r in body if "dev-20261119" in r)
    assert "devdb-state-failed" in failed and 'datetime="2026-11-19T06:00:03+00:00"' in failed
    thead = html.split('id="result_list"', 1)[1].split("</thead>", 1)[0]
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r'<div class="text">(.*?)</div>', thead)]
    assert headers == ["Clone", "Target", "State", "Created", "Ready", "Connected", "Aborted", "Deleted", "Live for",
                       "Endpoint"]


def test_banner_shows_where_each_stable_name_points_from_the_records(admin_client, week, aws_calls_refused, settings):
    settings.DEVDB = {**settings.DEVDB, "TARGETS": {**settings.DEVDB["TARGETS"], "staging": {"RECORD_NAME": "db.staging.example.com"}}}
    html = admin_client.get(LIST).content.decode()
    banner = html.split('id="devdb-points-now"', 1)[1].split("</section>", 1)[0]
    dev = re.search(r'data-target="dev">(.*?)</li>', banner, flags=re.S).group(1)
    assert "db.dev.example.com" in dev and "dev-20261120" in dev and endpoint("dev-20261120") in dev
    assert change_url(CloneRecord.objects.get(cluster_id="dev-20261120")) in dev
    qa = re.search(r'data-target="qa">(.*?)</li>', banner, flags=re.S).group(1)
    assert "qa-20261120" in qa and endpoint("qa-20261120") in qa
    staging = re.search(r'data-target="staging">(.*?)</li>', banner, flags=re.S).group(1)
    assert "no connected clone" in staging


def test_banner_picks_the_newest_connected_record_per_target_in_queries_counted_by_target(week):
    # Records can disagree for a moment (a killed run): the newest connection wins.
    mirror("dev", "dev-20261110", "connected", T0 - timedelta(days=6))
    with CaptureQueriesContext(connections["devdb"]) as queries:
        points = {row["target"]: row for row in where_names_point()}
    # the live records, their timelines, the leases; per target (dev, qa) the next target down and its newest
    # created time, then the end of that skip scan, and the newest records with whether they failed
    assert len(queries) == 3 + 2 * 2 + 2
    assert not any("GROUP BY" in q["sql"] or "DISTINCT" in q["sql"] for q in queries)
    assert points["dev"]["record"].cluster_id == "dev-20261120"
    assert points["qa"]["record"].cluster_id == "qa-20261120"


def test_filters_by_state_and_target(admin_client, week):
    html = admin_client.get(LIST, {"state": "deleted"}).content.decode()
    body = rows(html)
    assert len(body) == 4 and all("devdb-state-deleted" in r for r in body)
    html = admin_client.get(LIST, {"target": "qa"}).content.decode()
    body = rows(html)
    assert len(body) == 2 and all(">qa<" in r for r in body)
    html = admin_client.get(LIST, {"target": "dev", "state": "connected"}).content.decode()
    body = rows(html)
    assert len(body) == 1 and "dev-20261120" in body[0]
    # the filter sidebar offers both
    assert 'data-filter-title="target"' in html and 'data-filter-title="state"' in html
    assert "state__exact=aborted" in html and "target=qa" in html


def test_search_by_cluster_id(admin_client, week):
    body = rows(admin_client.get(LIST, {"q": "dev-20261118"}).content.decode())
    assert len(body) == 1 and "dev-20261118" in body[0]
    body = rows(admin_client.get(LIST, {"q": "20261120"}).content.decode())
    assert {re.search(r"(dev|qa)-20261120", r).group(0) for r in body} == {"dev-20261120", "qa-20261120"}


# --- the detail page -----------------------------------------------------------------------------------


def test_detail_shows_the_timeline(admin_client, week, aws_calls_refused):
    record = CloneRecord.objects.get(cluster_id="dev-20261118")
    response = admin_client.get(change_url(record))
    assert response.status_code == 200
    html = response.content.decode()
    timeline = html.split('id="devdb-timeline"', 1)[1]
    events = re.findall(r'<tr class="devdb-event">(.*?)</tr>', timeline, flags=re.S)
    assert len(events) == 5
    steps = [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", e))).strip() for e in events]
    assert steps[0].startswith("2026-11-18 05:00:03 UTC new \u2192 created restored from prod-aurora")
    assert "created \u2192 ready usable (status probe)" in steps[1]
    assert "ready \u2192 connected db.dev.example.com points here" in steps[2]
    # the 19th failed, so the 18th's clone stayed live until the 20th
    assert steps[3].startswith("2026-11-20 05:12:03 UTC connected \u2192 aborted superseded by dev-20261120")
    assert "aborted \u2192 deleted deleted (SkipFinalSnapshot)" in steps[4]
    assert ">2d 0h<" in html  # live for
    assert endpoint("dev-20261118") in html


def test_detail_of_a_failed_clone_shows_the_error(admin_client, week):
    html = admin_client.get(change_url(CloneRecord.objects.get(cluster_id="dev-20261119"))).content.decode()
    assert "did not become available within READY_TIMEOUT (3600s)" in html
    assert html.count('<tr class="devdb-event">') == 2


# --- read-only -------------------------------------------------------------------------------------------


def test_history_cannot_be_added_changed_or_deleted(admin_client, week):
    record = CloneRecord.objects.get(cluster_id="dev-20261120")
    html = admin_client.get(LIST).content.decode()
    assert reverse("admin:devdb_clonerecord_add") not in html
    assert 'name="action"' not in html and "action-checkbox" not in html
    detail = admin_client.get(change_url(record)).content.decode()
    assert 'name="_save"' not in detail and "_continue" not in detail
    assert reverse("admin:devdb_clonerecord_delete", args=[record.pk]) not in detail
    assert '<input type="text"' not in detail and "<textarea" not in detail
    assert admin_client.get(reverse("admin:devdb_clonerecord_add")).status_code == 403
    response = admin_client.post(change_url(record), {"state": "aborted", "cluster_id": "x", "target": "dev"})
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:devdb_clonerecord_delete", args=[record.pk])).status_code == 403
    assert admin_client.post(reverse("admin:devdb_clonerecord_delete", args=[record.pk]), {"post": "yes"}).status_code == 403
    response = admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"})
    assert response.status_code in (200, 302, 403)
    record.refresh_from_db()
    assert record.state == "connected" and CloneRecord.objects.count() == 7


def test_events_are_not_registered_for_editing(admin_client):
    from django.contrib import admin

    assert CloneEvent not in admin.site._registry


def test_history_after_a_three_day_engine_run(admin_client, aws, make_engine, clock):
    for day in range(3):
        if day:
            clock.advance(days=1)
        make_engine().refresh()
    html = admin_client.get(LIST).content.decode()
    body = rows(html)
    assert len(body) == 3
    by_id = {re.search(r"dev-2026112\d", r).group(0): r for r in body}
    assert set(by_id) == {"dev-20261122", "dev-20261123", "dev-20261124"}
    assert "devdb-state-connected" in by_id["dev-20261124"]
    assert "devdb-state-deleted" in by_id["dev-20261122"] and "devdb-state-deleted" in by_id["dev-20261123"]
    assert ">1d 0h<" in by_id["dev-20261123"]
    banner = html.split('id="devdb-points-now"', 1)[1].split("</section>", 1)[0]
    live = aws.cluster("dev-20261124")["Endpoint"]
    assert "dev-20261124" in banner and live in banner and aws.record() == live
    detail = admin_client.get(change_url(CloneRecord.objects.get(cluster_id="dev-20261123"))).content.decode()
    assert detail.count('<tr class="devdb-event">') == 5
    assert "superseded by dev-20261124" in detail


# --- at scale --------------------------------------------------------------------------------------------


def seed(n, start_id=0):
    """n records of targets dev/qa/ci, mostly deleted, some aborted/created/ready; the first call adds one
    connected record per target, later calls an event for each of the first 200 records."""
    states = ["deleted"] * 7 + ["aborted", "created", "ready"]
    records = []
    for i in range(start_id, start_id + n):
        created = T0 - timedelta(days=i // 3, minutes=i % 3)
        target = ("dev", "qa", "ci")[i % 3]
        state = states[i % len(states)]
        connected = created + timedelta(minutes=12) if state in ("deleted", "aborted") else None
        records.append(CloneRecord(
            target=target, cluster_id=f"{target}-{i:07d}", instance_id=f"{target}-{i:07d}-1", source="prod-aurora",
            state=state, state_since=created + timedelta(days=1), endpoint=endpoint(f"{target}-{i:07d}"),
            created_at=created, ready_at=created + timedelta(minutes=11), connected_at=connected,
            aborted_at=created + timedelta(days=1) if state in ("deleted", "aborted") else None,
            deleted_at=created + timedelta(days=1, minutes=3) if state == "deleted" else None,
        ))
    made = CloneRecord.objects.bulk_create(records, batch_size=1000)
    if start_id == 0:  # a connected clone per target, the newest
        for target in ("dev", "qa", "ci"):
            mirror(target, f"{target}-today", "connected", T0 + timedelta(days=1))
    ids = list(CloneRecord.objects.order_by("id").values_list("id", flat=True)[:200])
    if start_id:
        CloneEvent.objects.bulk_create([CloneEvent(record_id=pk, at=T0, from_state="created", to_state="ready")
                                        for pk in ids], batch_size=1000)
    return made


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connections["devdb"]) as devdb, CaptureQueriesContext(connections["default"]) as default:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(devdb), len(default), response


VIEWS = [{}, {"state": "deleted"}, {"target": "qa", "state": "aborted"}, {"q": "qa-00"}, {"o": "-5"},
         {"_facets": "True"}]


def test_changelist_queries_do_not_grow_with_the_history(admin_client):
    seed(10)
    small = [count_queries(admin_client, LIST, params)[:2] for params in VIEWS]
    seed(9_990, start_id=10)
    assert CloneRecord.objects.count() == 10_003
    large = [count_queries(admin_client, LIST, params)[:2] for params in VIEWS]
    assert large == small
    # Pinned: count of the page, the page, the page's timelines, the target filter's values, the banner
    # (live records, their timelines, the leases; for each of the 3 targets the next target down and its
    # newest created time, the skip scan's end, the newest records) (control DB); session and user (default DB).
    pinned = 4 + 3 + 2 * 3 + 2
    devdb_queries, default_queries, response = count_queries(admin_client, LIST)
    assert (devdb_queries, default_queries) == (pinned, 2)
    assert len(rows(response.content.decode())) == 50
    devdb_queries, _, response = count_queries(admin_client, LIST, {"p": "2"})
    assert devdb_queries == pinned and len(rows(response.content.decode())) == 50


def test_changelist_counts_the_table_at_most_once(admin_client):
    seed(300)
    with CaptureQueriesContext(connections["devdb"]) as queries:
        admin_client.get(LIST, {"state": "deleted"})
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "deleted" in counts[0]


def test_detail_queries_do_not_grow_with_the_history(admin_client):
    seed(10)
    record = CloneRecord.objects.get(cluster_id="dev-0000000")
    small = count_queries(admin_client, change_url(record))[0]
    seed(2_000, start_id=10)
    large, _, response = count_queries(admin_client, change_url(record))
    assert large == small == 3  # the record, its timeline's moves, its events
    assert response.content.decode().count('<tr class="devdb-event">') == 1


def test_format_duration_has_one_style_the_two_largest_units():
    assert format_duration(None) is None
    assert format_duration(timedelta(seconds=20)) == "20s"
    assert format_duration(timedelta(minutes=5, seconds=59)) == "5m 59s"
    assert format_duration(timedelta(hours=23, minutes=59, seconds=59)) == "23h 59m"
    assert format_duration(timedelta(days=1)) == "1d 0h"
    assert format_duration(timedelta(days=2, minutes=7)) == "2d 0h"
    assert format_duration(timedelta(days=3, hours=2, minutes=7)) == "3d 2h"
    assert format_duration(timedelta(minutes=-3)) == "0s"


# --- failures, rollbacks, one format (issue 11) ------------------------------------------------------------


ERROR = "did not become available within READY_TIMEOUT (3600s)\nwriter dev-20261121-1: creating"


def fail_and_delete(day):
    """A clone that never became ready, aborted and then deleted: what a failed morning leaves behind."""
    cid = f"dev-{T0 + timedelta(days=day):%Y%m%d}"
    at = T0 + timedelta(days=day)
    mirror("dev", cid, "created", at, message="restored from prod-aurora (copy-on-write)")
    mirror("dev", cid, "aborted", at + timedelta(hours=1), message="failed: " + ERROR.splitlines()[0], error=ERROR)
    mirror("dev", cid, "deleted", at + timedelta(hours=1, minutes=2), message="deleted (SkipFinalSnapshot)")
    return cid


def test_a_failed_clone_has_its_own_badge_its_errors_first_line_and_a_filter(admin_client, week, aws_calls_refused):
    gone = fail_and_delete(5)
    body = rows(admin_client.get(LIST).content.decode())
    by_id = {re.search(r"(dev|qa)-\d{8}", r).group(0): r for r in body}
    for cid in ("dev-20261119", gone):  # aborted, and aborted then deleted: both failed, neither grey
        badge = re.search(r'<td class="field-state_badge">(.*?)</td>', by_id[cid], flags=re.S).group(1)
        assert "devdb-state-failed" in badge and "devdb-state-deleted" not in badge and "devdb-state-aborted" not in badge
    assert "did not become available within READY_TIMEOUT (3600s)</div>" in by_id[gone]
    banner = admin_client.get(LIST).content.decode().split('id="devdb-points-now"', 1)[1].split("</section>", 1)[0]
    dev = re.search(r'data-target="dev">(.*?)</li>', banner, flags=re.S).group(1)
    assert "the last run's clone" in dev and gone in dev and "did not become available within READY_TIMEOUT (3600s)" in dev
    assert "the last run" not in re.search(r'data-target="qa">(.*?)</li>', banner, flags=re.S).group(1)
    assert "writer dev-20261121-1" not in by_id[gone]  # the first line only
    assert 'title="never ready: aborted, then deleted"' in by_id[gone]
    # a clone replaced by a newer one keeps the grey badge
    assert "devdb-state-deleted" in by_id["dev-20261116"] and "devdb-state-failed" not in by_id["dev-20261116"]

    html = admin_client.get(LIST, {"failed": "yes"}).content.decode()
    assert 'data-filter-title="failed"' in html
    assert sorted(re.search(r"dev-\d{8}", r).group(0) for r in rows(html)) == ["dev-20261119", gone]
    others = rows(admin_client.get(LIST, {"failed": "no"}).content.decode())
    assert len(others) == CloneRecord.objects.count() - 2 and not any("devdb-state-failed" in r for r in others)


def test_status_devdb_lists_failures_not_yet_made_good(week):
    from devdb.management.commands.status_devdb import failure_lines, failures

    assert failures("dev") == []  # the 19th failed, but the 20th's clone went live after it
    gone = fail_and_delete(5)
    assert failures("dev") == [{"cluster": gone, "aborted": "2026-11-21T06:00:03Z", "state": "deleted",
                                "error": "did not become available within READY_TIMEOUT (3600s)"}]
    assert failures("qa") == []
    report = {"target": "dev", "record_name": "db.dev.example.com", "points_at": "x", "points_at_clone": "dev-20261120",
              "clones": [], "failures": failures("dev")}
    assert failure_lines(report) == [(
        f"  failed: {gone} aborted 2026-11-21T06:00:03Z before it was ready (deleted since): "
        "did not become available within READY_TIMEOUT (3600s)")]


def rollback():
    """a live a day, b live three hours, then a rolled back to and live until c replaced it."""
    a = day_of_clones("dev", 0, T0)
    b = day_of_clones("dev", 1, T0 + timedelta(days=1))
    mirror("dev", a, "aborted", T0 + timedelta(days=1, minutes=12), message=f"superseded by {b}")
    back = T0 + timedelta(days=1, hours=3, minutes=12)
    mirror("dev", a, "connected", back, message="rollback: db.dev.example.com points here")
    mirror("dev", b, "aborted", back, message=f"rolled back to {a}")
    c = day_of_clones("dev", 2, T0 + timedelta(days=2), previous=a)
    return CloneRecord.objects.get(cluster_id=a), CloneRecord.objects.get(cluster_id=b), c


def test_live_for_counts_every_period_the_name_pointed_at_the_clone(admin_client, aws_calls_refused):
    a, b, c = rollback()
    assert a.live_periods == [(T0 + timedelta(minutes=12), T0 + timedelta(days=1, minutes=12)),
                              (T0 + timedelta(days=1, hours=3, minutes=12), T0 + timedelta(days=2, minutes=12))]
    assert a.live_for == timedelta(hours=45) and b.live_for == timedelta(hours=3)
    # a history that says "connected" twice in a row (a killed run) counts the time once
    garbled = CloneRecord.objects.get(cluster_id=c)
    garbled.moves = [CloneEvent(at=T0, from_state="ready", to_state="connected"),
                     CloneEvent(at=T0 + timedelta(hours=1), from_state="aborted", to_state="connected"),
                     CloneEvent(at=T0 + timedelta(hours=3), from_state="connected", to_state="aborted")]
    assert garbled.live_periods == [(T0, T0 + timedelta(hours=1)), (T0 + timedelta(hours=1), T0 + timedelta(hours=3))]
    assert garbled.live_for == timedelta(hours=3)
    body = rows(admin_client.get(LIST).content.decode())
    row_a = next(r for r in body if a.cluster_id in r)
    assert ">1d 21h</span>" in row_a and "in 2 periods" in row_a
    assert ">3h 0m</span>" in next(r for r in body if b.cluster_id in r)
    detail = admin_client.get(change_url(a)).content.decode()
    live = detail.split('class="form-row field-live_history"', 1)[1].split("</ul>", 1)[0]
    assert ">1d 21h<" in live
    assert re.findall(r'<li><time datetime="([^"]+)"[^>]*>.*?</time> \u2192 <time datetime="([^"]+)"', live) == [
        (p[0].isoformat(), p[1].isoformat()) for p in a.live_periods]


def test_every_time_has_one_format_and_no_page_shows_none(admin_client, week):
    history.mirror(target="dev", cluster_id="dev-20261125", state="created", at=T0 + timedelta(days=9))  # bare
    fail_and_delete(5)
    pages = [LIST] + [change_url(r) for r in CloneRecord.objects.filter(
        cluster_id__in=["dev-20261125", "dev-20261121", "dev-20261119", "dev-20261120", "dev-20261116"])]
    for url in pages:
        html = admin_client.get(url).content.decode()
        times = re.findall(r"<time [^>]*>([^<]+)</time>", html)
        assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\xa0UTC", t) for t in times), (url, times)
        text = unescape(re.sub(r"<[^>]+>", " ", html.split('id="content"', 1)[1]))
        assert "None" not in text, url
        assert not re.search(r"\b(a\.m\.|p\.m\.|day,|days,)", text), url


def test_the_timeline_replaces_the_empty_history(admin_client, week):
    record = CloneRecord.objects.get(cluster_id="dev-20261118")
    history_url = reverse("admin:devdb_clonerecord_history", args=[record.pk])
    detail = admin_client.get(change_url(record)).content.decode()
    tools = detail.split('class="object-tools"', 1)[1].split("</ul>", 1)[0]
    assert 'href="#devdb-timeline"' in tools and ">Timeline<" in tools
    assert history_url not in detail and ">History<" not in detail
    response = admin_client.get(history_url)
    assert response.status_code == 302 and response["Location"] == change_url(record) + "#devdb-timeline"


def test_the_example_project_has_no_view_site_link_to_a_404(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "View site" not in html
    response = admin_client.get("/")
    assert response.status_code == 302 and response["Location"] == LIST


def test_each_clone_links_to_its_page_in_the_aws_console(admin_client, week):
    url = ("https://eu-west-1.console.aws.amazon.com/rds/home?region=eu-west-1"
           "#database:id=dev-20261120;is-cluster=true")
    body = rows(admin_client.get(LIST).content.decode())
    assert f'class="devdb-console" href="{url}"' in next(r for r in body if "dev-20261120" in r)
    assert "devdb-console" not in next(r for r in body if "dev-20261116" in r)  # deleted: no page to open
    live = CloneRecord.objects.get(cluster_id="dev-20261120")
    detail = admin_client.get(change_url(live)).content.decode()
    assert f'href="{url}"' in detail.split('class="object-tools"', 1)[1].split("</ul>", 1)[0]
    assert console_url(CloneRecord(cluster_id="dev-1", state="ready",
                                   endpoint="dev-1.cluster-abc.cn-north-1.rds.amazonaws.com.cn")) == (
        "https://console.amazonaws.cn/rds/home?region=cn-north-1#database:id=dev-1;is-cluster=true")
    assert console_url(CloneRecord(cluster_id="dev-1", state="ready", endpoint="")) is None


# --- run leases --------------------------------------------------------------------------------------------

LEASES = reverse("admin:devdb_targetlease_changelist")


def lease(target="dev", host="runner-7", pid=4242, expires_in=timedelta(minutes=110)):
    now = dj_timezone.now().replace(microsecond=0)
    return TargetLease.objects.create(target=target, token=f"{target}-token", host=host, pid=pid,
                                      acquired_at=now - timedelta(minutes=10), expires_at=now + expires_in)


def test_the_banner_shows_each_targets_run_lease(admin_client, week):
    held = lease()
    lease("qa", expires_in=timedelta(minutes=-1))
    html = admin_client.get(LIST).content.decode()
    banner = html.split('id="devdb-points-now"', 1)[1].split("</section>", 1)[0]
    dev = re.sub(r"[ \t\n]+", " ", unescape(re.sub(r"<[^>]+>", "", re.search(r'data-target="dev">(.*?)</li>', banner,
                                                                         flags=re.S).group(1))))
    since = held.acquired_at.strftime("%Y-%m-%d %H:%M:%S\xa0UTC")
    expires = held.expires_at.strftime("%Y-%m-%d %H:%M:%S\xa0UTC")
    assert f"run lease: held by runner-7 pid 4242 since {since}, expires {expires}" in dev
    qa = re.search(r'data-target="qa">(.*?)</li>', banner, flags=re.S).group(1)
    assert "expired" in qa
    TargetLease.objects.all().delete()
    assert "no run now" in admin_client.get(LIST).content.decode()


def test_releasing_the_lease_of_a_run_that_is_gone_is_logged_and_noted(admin_client, week, caplog):
    held = lease()
    response = admin_client.post(LEASES, {"action": "release", "_selected_action": [held.pk]}, follow=True)
    assert response.status_code == 200
    assert not TargetLease.objects.exists()
    message = f"run lease released in the admin by admin (held by runner-7 pid 4242 since {time_text(held.acquired_at)})"
    assert message in response.content.decode()
    entry = LogEntry.objects.get()
    assert (entry.action_flag, entry.object_id, entry.change_message) == (DELETION, "dev", message)
    assert any(r.name == "devdb" and r.levelname == "WARNING" and message in r.getMessage() for r in caplog.records)
    note = CloneRecord.objects.get(cluster_id="dev-20261120").events.last()
    assert note.message == message and note.from_state == note.to_state == "connected"


def test_only_users_who_may_delete_leases_may_release_them(client, django_user_model, week):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_targetlease", "view_clonerecord"]))
    client.force_login(user)
    held = lease()
    assert 'name="action"' not in client.get(LEASES).content.decode()
    client.post(LEASES, {"action": "release", "_selected_action": [held.pk]})
    assert TargetLease.objects.filter(pk=held.pk).exists()
    user.user_permissions.add(Permission.objects.get(codename="delete_targetlease"))
    user = django_user_model.objects.get(pk=user.pk)  # a fresh permission cache
    client.force_login(user)
    html = client.get(LEASES).content.decode()
    assert 'value="release"' in html and 'value="delete_selected"' not in html
    client.post(LEASES, {"action": "release", "_selected_action": [held.pk]})
    assert not TargetLease.objects.exists()


def test_a_lease_whose_run_is_alive_on_this_host_is_not_released(admin_client):
    held = lease(host=socket.gethostname(), pid=os.getpid())
    response = admin_client.post(LEASES, {"action": "release", "_selected_action": [held.pk]}, follow=True)
    assert "its run is still alive" in response.content.decode()
    assert TargetLease.objects.filter(pk=held.pk).exists() and not LogEntry.objects.exists()


def test_branches_show_owner_expiry_and_host_and_filter_by_kind(admin_client):
    from datetime import datetime, timezone

    from devdb import history, lifecycle

    at = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    history.mirror(target="dev", cluster_id="dev-20261122", state=lifecycle.CONNECTED, at=at)
    history.mirror(target="dev", cluster_id="dev-feat", state=lifecycle.CONNECTED, at=at,
                   branch={lifecycle.TAG_BRANCH: "feat", lifecycle.TAG_OWNER: "alice",
                           lifecycle.TAG_EXPIRES_AT: "2026-11-25T12:00:00Z"})
    history.mirror(target="dev", cluster_id="dev-feat", state=lifecycle.DELETED, at=at)  # stays in the history
    url = "/admin/devdb/clonerecord/"
    daily_row, branch_row = (f'<th class="field-cluster_id"><a href="{url}{history.find(c).pk}/change/' for c in ("dev-20261122", "dev-feat"))
    branches = admin_client.get(url + "?kind=branch").content.decode()
    assert branch_row in branches and daily_row not in branches
    assert "alice" in branches and "feat.db.dev.example.com" in branches
    daily = admin_client.get(url + "?kind=daily").content.decode()
    assert daily_row in daily and branch_row not in daily
    history.mirror(target="dev", cluster_id="dev-pr-7", state=lifecycle.CONNECTED, at=at,
                   branch={lifecycle.TAG_BRANCH: "pr-7"})
    now_clone = admin_client.get(url).content.decode().split('class="devdb-now-clone"><strong>')[1]
    assert now_clone.startswith("dev-20261122<")  # a connected branch is not where the stable name points


def test_branches_look_apart_and_show_owner_expiry_in_utc_and_host_without_a_filter(admin_client):
    from datetime import datetime, timezone

    from devdb import history, lifecycle

    at = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    history.mirror(target="dev", cluster_id="dev-20261122", state=lifecycle.CONNECTED, at=at)
    history.mirror(target="dev", cluster_id="dev-feat", state=lifecycle.CONNECTED, at=at,
                   branch={lifecycle.TAG_BRANCH: "feat", lifecycle.TAG_OWNER: "alice",
                           lifecycle.TAG_EXPIRES_AT: "2026-11-25T12:00:00Z"})
    url = "/admin/devdb/clonerecord/"
    html = admin_client.get(url).content.decode()
    rows = {m[1]: m[0] for m in re.finditer(r'<tr>.*?field-cluster_id"><a href="[^"]*">([^<]+)</a>.*?</tr>', html, re.S)}
    daily, feat = rows["dev-20261122"], rows["dev-feat"]
    assert 'class="devdb-badge devdb-state-connected">\u25cf connected</span>' in daily
    badge = re.search(r'<td class="field-state_badge">(<span.*?</span>)', feat, re.S)[1]
    assert "devdb-state-connected" not in badge and "\u25cf" not in badge  # not the live clone's green badge
    assert 'class="devdb-badge devdb-branch devdb-branch-connected"' in badge and ">connected<" in badge
    cell = re.search(r'<td class="field-state_badge">(.*?)</td>', feat, re.S)[1]
    assert ">branch feat<" in cell and "<code>feat.db.dev.example.com</code>" in cell and "owner alice" in cell
    assert "2026-11-25\u00a0</time>" not in cell and "12:00:00\u00a0UTC</time>" in cell
    assert "devdb-branch" not in daily
    # The change pages: a branch's expiry with UTC; a daily clone has no Branch fieldset at all.
    branch_page = admin_client.get(f"{url}{history.find('dev-feat').pk}/change/").content.decode()
    assert "<h2>Branch</h2>" in branch_page or ">Branch</h2>" in branch_page
    assert "12:00:00\u00a0UTC" in branch_page.split("Branch</h2>", 1)[1].split("</fieldset>", 1)[0]
    daily_page = admin_client.get(f"{url}{history.find('dev-20261122').pk}/change/").content.decode()
    assert "Branch</h2>" not in daily_page
