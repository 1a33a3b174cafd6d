"""The clone history in a real browser: Debian's Chromium driven by Playwright against live_server.

Saves a screenshot of the changelist (docs/admin-history.png, the README's picture, with DEVDB_UPDATE_SCREENSHOT=1).
Skips without /usr/bin/chromium (or the playwright package), except under CI=true where it fails.
Never run `playwright install`: this uses the system Chromium.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from devdb import history

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test itself
# (seeding, logging in) would otherwise be refused as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

CHROMIUM = os.environ.get("DEVDB_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The README's picture is refreshed only on request (DEVDB_UPDATE_SCREENSHOT=1); otherwise the
# screenshot goes to a temporary file, so test runs leave the tree clean.
ROOT = Path(__file__).resolve().parent.parent
DOCS_SCREENSHOT = ROOT / "docs" / "admin-history.png"
SCREENSHOT = (DOCS_SCREENSHOT if os.environ.get("DEVDB_UPDATE_SCREENSHOT") == "1"
              else Path(tempfile.gettempdir()) / f"devdb-admin-history-{os.getpid()}.png")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "history-viewer-1"


def _unavailable(reason):
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def endpoint(cluster_id):
    return f"{cluster_id}.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com"


def morning(target, when, *, previous=None, keep_previous=False, fail=False, record_name="db.dev.example.com",
            finished=True):
    """Record one morning's refresh as the engine does: created -> ready -> connected; yesterday's aborted/deleted."""
    cid = f"{target}-{when:%Y%m%d}"

    def mirror(state, minutes, message, **kwargs):
        history.mirror(target=target, cluster_id=cid, state=state, at=when + timedelta(minutes=minutes), source="prod-aurora",
                       instance_id=f"{cid}-1", endpoint=endpoint(cid), message=message, **kwargs)

    mirror("created", 0, "restored from prod-aurora (copy-on-write)")
    if not finished:
        return None
    if fail:
        reason = "did not become available within READY_TIMEOUT (3600s): writer creating"
        mirror("aborted", 60, f"failed: {reason}", error=reason)
        mirror("deleted", 62, "deleted (SkipFinalSnapshot)")
        return None
    mirror("ready", 11.6, "usable (status probe)")
    mirror("connected", 12.1, f"{record_name} points here")
    if previous:
        history.mirror(target=target, cluster_id=previous, state="aborted", at=when + timedelta(minutes=12.2),
                       message=f"superseded by {cid}")
        if not keep_previous:
            history.mirror(target=target, cluster_id=previous, state="deleted", at=when + timedelta(minutes=14.3),
                           message="deleted (SkipFinalSnapshot)")
    return cid


def seed_week():
    """dev: seven mornings, this morning's failed (the clone was deleted at once); qa kept yesterday's clone and
    was rolled back to it this morning; ci is cloning now."""
    now = timezone.now().replace(microsecond=0)
    today = now.replace(second=3) - timedelta(minutes=90)  # every event of this morning is in the past
    days = [today - timedelta(days=n) for n in range(6, -1, -1)]
    live = None
    for n, when in enumerate(days):
        live = morning("dev", when, previous=live, fail=n == 6) or live
    qa = []
    for n, when in enumerate(days[-3:]):  # KEEP_ABORTED=1: yesterday's clone stays for a rollback
        qa.append(morning("qa", when + timedelta(minutes=20), previous=qa[-1] if qa else None, keep_previous=n == 2,
                          record_name="db.qa.example.com"))
    back = now - timedelta(minutes=5)  # the operator's `connect_devdb qa --to <yesterday's>`
    history.mirror(target="qa", cluster_id=qa[1], state="connected", at=back, message="db.qa.example.com points here (rollback)")
    history.mirror(target="qa", cluster_id=qa[2], state="aborted", at=back, message=f"rolled back to {qa[1]}")
    ci = morning("ci", days[-2] + timedelta(minutes=30), record_name="db.ci.example.com")
    morning("ci", days[-1] + timedelta(minutes=30), finished=False)
    # Yesterday's dev clone was masked before it went live; a branch of dev (branch_devdb) lives beside it.
    history.record_masking(live, days[5] + timedelta(minutes=9), {
        "fingerprint": "3f9a1c2e", "rows": 3000, "seconds": 4.2, "verification": {"ok": True, "checks": 12, "failures": []}})
    branch_at = days[5] + timedelta(hours=7)
    for state, minutes in (("created", 0), ("ready", 9), ("connected", 10)):
        history.mirror(target="dev", cluster_id="dev-feat-login", state=state, at=branch_at + timedelta(minutes=minutes),
                       source="prod-aurora", instance_id="dev-feat-login-1", endpoint=endpoint("dev-feat-login"),
                       message="branch feat-login", branch={"devdb:branch": "feat-login", "devdb:owner": "alice",
                                                            "devdb:expires-at": f"{branch_at + timedelta(days=3):%Y-%m-%dT%H:%M:%SZ}"})
    return {"dev": live, "qa": qa[1], "qa_rolled_back": qa[2], "ci": ci, "failed": f"dev-{days[6]:%Y%m%d}",
            "days": days, "branch": "dev-feat-login"}


def log_in(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("operator", "ops@example.com", PASSWORD)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/devdb/clonerecord/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")


def colour_of(page, state):
    return page.locator(f"#result_list .devdb-state-{state}").first.evaluate("e => getComputedStyle(e).backgroundColor")


def row_states(page):
    return [s.strip("\u25cf ").strip() for s in page.locator("#result_list td.field-state_badge > .devdb-badge").all_inner_texts()]


def test_history_in_a_real_browser(page, live_server, django_user_model, settings):
    settings.DEVDB = {**settings.DEVDB, "MASKING": {"auth.User": {"email": "email"}}, "TARGETS": {
        name: {"RECORD_NAME": f"db.{name}.example.com", "SOURCE_CLUSTER": "prod-aurora", "INSTANCE_CLASS": "db.t4g.medium",
               "HOSTED_ZONE_ID": "Z0123456789ABC", "CLONE_PREFIX": name} for name in ("dev", "qa", "ci")}}
    seeded = seed_week()
    log_in(page, live_server, django_user_model)

    # Where each stable name points, from the records.
    banner = page.locator("#devdb-points-now")
    dev_line = banner.locator('li[data-target="dev"]').inner_text()
    assert "db.dev.example.com" in dev_line and seeded["dev"] in dev_line and endpoint(seeded["dev"]) in dev_line
    qa_line = banner.locator('li[data-target="qa"]').inner_text()
    assert seeded["qa"] in qa_line and re.search(r"live for 1d 0h\b", qa_line)  # yesterday's day + the rollback's minutes
    assert seeded["ci"] in banner.locator('li[data-target="ci"]').inner_text()
    assert "no run now" in dev_line
    assert re.search(rf"failed the last run's clone {seeded['failed']}, aborted .* before it was ready: did not become", dev_line)

    # Every clone, newest first, with a coloured badge; the live ones stand out, the failed one too.
    assert page.locator("#result_list tbody tr").count() == 7 + 3 + 2 + 1
    assert set(row_states(page)) == {"created", "connected", "aborted", "deleted", "failed"}
    # The branch: its own outlined badge (not the live clone's green), its host, owner and expiry in UTC in the list.
    branch_row = page.locator("#result_list tbody tr", has_text=seeded["branch"])
    branch_badge = branch_row.locator(".devdb-branch")
    assert branch_badge.evaluate("e => getComputedStyle(e).backgroundColor") != colour_of(page, "connected")
    assert branch_row.locator(".devdb-live-now").count() == 1 and branch_row.locator(".devdb-state-connected").count() == 0
    cell = branch_row.locator("td.field-state_badge .devdb-branch-info").inner_text()
    assert "feat-login" in cell and "feat-login.db.dev.example.com" in cell and "owner alice" in cell
    assert re.search(r"expires \d{4}-\d\d-\d\d\s\d\d:\d\d:\d\d\sUTC", cell), cell
    # The masked clone.
    assert page.locator("#result_list tbody tr", has_text=seeded["dev"]).locator(".devdb-masked").inner_text() == "masked"
    live_row = page.locator("#result_list tbody tr", has_text=seeded["dev"])
    assert live_row.locator(".devdb-live-now").count() == 1
    weight = live_row.locator("td.field-target").evaluate("e => getComputedStyle(e).fontWeight")
    assert int(weight) >= 600
    colours = {state: page.locator(f"#result_list .devdb-state-{state}").first.evaluate(
        "e => getComputedStyle(e).backgroundColor") for state in ("created", "connected", "aborted", "failed")}
    assert len(set(colours.values())) == 4, colours
    failed_row = page.locator("#result_list tbody tr", has_text=seeded["failed"])
    assert failed_row.locator(".devdb-state-failed").inner_text() == "failed"
    assert "did not become available within READY_TIMEOUT" in failed_row.locator(".devdb-error").inner_text()
    rolled_back_to = page.locator("#result_list tbody tr", has_text=seeded["qa"]).locator("td.field-live").inner_text()
    assert re.fullmatch(r"1d 0h\s+in 2 periods", rolled_back_to.strip()), rolled_back_to

    # The picture for the README: the whole list after a failed morning and a rollback.
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 20_000

    # One time format, and the whole row in a 1280-px window: nothing to scroll sideways to (the admin scrolls
    # a wide list inside its .results box), every endpoint inside it with room to read it.
    times = page.locator("#result_list time").all_inner_texts()
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d\s\d\d:\d\d:\d\d\sUTC", t) for t in times), times
    boxes = page.evaluate("""() => {
        const results = document.querySelector('#changelist .results');
        return {
            window: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,
            results: {right: results.getBoundingClientRect().right, scroll: results.scrollWidth, client: results.clientWidth},
            endpoints: [...document.querySelectorAll('#result_list td.field-endpoint_display code')].map(code => {
                const box = code.getBoundingClientRect();
                return {left: box.left, right: box.right, width: box.width};
            }),
        };
    }""")
    assert boxes["window"] == 1280 and boxes["page"] <= 1280, boxes
    assert boxes["results"]["scroll"] <= boxes["results"]["client"] and boxes["results"]["right"] <= 1280, boxes
    assert len(boxes["endpoints"]) == 13
    assert all(e["right"] <= boxes["results"]["right"] and e["width"] >= 150 for e in boxes["endpoints"]), boxes

    # Filter the failures.
    page.locator("#changelist-filter details[data-filter-title=failed] a", has_text="failed (never ready)").click()
    page.wait_for_url(re.compile(r"failed=yes"))
    assert page.locator("#result_list tbody tr").count() == 1
    assert seeded["failed"] in page.locator("#result_list").inner_text()

    # Filter by state and target.
    page.goto(f"{live_server.url}/admin/devdb/clonerecord/")
    page.locator("#changelist-filter details[data-filter-title=state] a", has_text=re.compile(r"^deleted$")).click()
    page.wait_for_url(re.compile(r"state__exact=deleted"))
    states = row_states(page)
    assert states and set(states) == {"deleted", "failed"}
    page.locator("#changelist-filter details[data-filter-title=target] a", has_text=re.compile(r"^qa$")).click()
    page.wait_for_url(re.compile(r"target=qa"))
    assert len(row_states(page)) == 1

    # Search by cluster id, then open the clone that failed and read its timeline.
    page.goto(f"{live_server.url}/admin/devdb/clonerecord/")
    page.fill("#searchbar", seeded["failed"])
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(r"q=dev-"))
    assert page.locator("#result_list tbody tr").count() == 1
    page.click(f"#result_list a:text-is('{seeded['failed']}')")
    page.wait_for_selector("#devdb-timeline")
    events = page.locator("#devdb-timeline tr.devdb-event").all_inner_texts()
    assert len(events) == 3
    assert re.search(r"new\s*\u2192\s*created\s+restored from prod-aurora", events[0])
    assert re.search(r"created\s*\u2192\s*aborted\s+failed: did not become available within READY_TIMEOUT", events[1])
    assert re.search(r"aborted\s*\u2192\s*deleted", events[2])
    assert "did not become available" in page.locator(".field-error").inner_text()
    assert "None" not in page.locator("#content").inner_text()

    # The clone rolled back to: live twice, and its timeline says so; "Timeline" in place of "History".
    page.goto(f"{live_server.url}/admin/devdb/clonerecord/?q={seeded['qa']}")
    page.click("#result_list th.field-cluster_id a")
    page.wait_for_selector("#devdb-timeline")
    timeline = re.sub(r"\s*\u2192\s*", " \u2192 ", page.locator("#devdb-timeline").inner_text())
    assert timeline.count("ready \u2192 connected") == 1 and timeline.count("aborted \u2192 connected") == 1
    live = page.locator(".field-live_history").inner_text()
    assert "1d 0h" in live and len(re.findall(r"\u2192", live)) == 2 and live.rstrip().endswith("now")
    assert page.locator(".object-tools a", has_text="History").count() == 0
    page.locator(".object-tools a", has_text="Timeline").click()
    page.wait_for_url(re.compile(r"#devdb-timeline$"))
    # Read-only: nothing to save or delete.
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("a.deletelink").count() == 0


@pytest.fixture
def example_project(tmp_path):
    """The example project as a user starts it: `manage.py runserver` with its defaults (DJANGO_DEBUG unset,
    so DEBUG is off), SQLite databases in tmp_path, a superuser; yields its URL."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DEVDB_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "project.settings", "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3", "DEVDB_DATABASE_URL": f"sqlite:///{tmp_path}/devdb.sqlite3",
        "DEVDB_SOURCE_CLUSTER": "prod-aurora", "DEVDB_HOSTED_ZONE_ID": "Z0123456789ABC",
        "DEVDB_RECORD_NAME": "db.dev.example.com", "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
    })
    manage = [sys.executable, "manage.py"]
    for args in (["migrate"], ["migrate", "--database", "devdb"],
                 ["createsuperuser", "--noinput", "--username", "operator", "--email", "ops@example.com"]):
        subprocess.run([*manage, *args, "-v", "0"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"runserver did not start: {server.stderr.read() if server.poll() is not None else 'timeout'}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def test_the_example_project_serves_a_styled_admin_with_debug_off(page, example_project):
    stylesheets = []
    page.on("response", lambda r: stylesheets.append((r.url, r.status)) if r.request.resource_type == "stylesheet" else None)
    page.goto(f"{example_project}/")  # the history, behind the login
    page.wait_for_selector("#id_username")
    assert any(url.endswith("/static/admin/css/base.css") for url, _ in stylesheets), stylesheets
    assert all(status == 200 for _, status in stylesheets), stylesheets
    # base.css applied: the header has the admin's colour, the login box its width.
    assert page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    assert page.locator("#container").evaluate("e => getComputedStyle(e).display") == "flex"
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#devdb-points-now")
    assert page.locator("#changelist").evaluate("e => getComputedStyle(e).display") == "flex"  # changelist.css
    assert page.locator("text=View site").count() == 0
    assert all(status == 200 for _, status in stylesheets), stylesheets
