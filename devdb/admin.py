"""The clone history in the Django admin, read-only: nobody edits history by hand.

The changelist shows each clone with its state as a coloured badge (a clone that failed, aborted
before it was ever ready, gets its own badge and its error's first line), the time of each state,
how long the stable name pointed at it in all (every period, from the timeline) and its endpoint
with a link to the AWS console. Above the list, per target, where the stable name points now and
who holds the run lease, read from the control database (never AWS: rendering a page makes no AWS
call). The change page shows the clone's event timeline in place of the admin's "History".

Every time is shown one way, `2026-11-16 05:00:03 UTC`, and every duration one way, `2d 0h`,
`23h 59m`, `12m 40s`.

The changelist costs the same number of queries with 10 records or 10,000: the rows' timelines
are prefetched in one query, the banner costs four, there is no full-table count.

Run leases are listed read-only too; the one change an operator may make is releasing the lease of
a run that is gone (permission `devdb.delete_targetlease`), logged in the admin's LogEntry, on the
`devdb` logger and as a note in the target's newest clone's timeline.
"""

import json
import logging
import re
import socket
from datetime import timezone as dt_timezone

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from . import conf, history, lifecycle
from .locks import pid_alive
from .models import CloneRecord, TargetLease, failed_filter, newest_failed, with_moves

logger = logging.getLogger("devdb")

EMPTY = "\u2013"
FAILED = "failed"  # not a state: an aborted (or since deleted) clone that never became ready
STATE_MARKS = {lifecycle.CONNECTED: "\u25cf "}  # the live clone gets a dot before its state
# <cluster>.cluster-<hash>.<region>.rds.amazonaws.com[.cn]: the region of a clone the record keeps no ARN for.
_ENDPOINT_REGION = re.compile(r"\.cluster-(?:ro-|custom-)?[a-z0-9]+\.([a-z0-9-]+)\.rds\.amazonaws\.com(\.cn)?\.?$")


def time_text(value):
    """'2026-11-16 05:00:03 UTC': the one way a time is written in the admin."""
    return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_time(value):
    """time_text in a <time> element (which may wrap between date and time in narrow columns); None -> '–'."""
    if value is None:
        return EMPTY
    date, clock = time_text(value).split(" ", 1)
    return format_html('<time datetime="{}">{} {}</time>', value.isoformat(), date, clock.replace(" ", "\u00a0"))


def format_duration(delta):
    """The two largest units: '2d 0h', '23h 59m', '12m 40s', '45s'; None -> None. Negative (clock skew) is 0s."""
    if delta is None:
        return None
    seconds = max(0, int(delta.total_seconds()))
    parts = [(seconds // 86400, "d"), (seconds // 3600 % 24, "h"), (seconds // 60 % 60, "m"), (seconds % 60, "s")]
    first = next((i for i, (value, _) in enumerate(parts) if value), len(parts) - 1)
    return " ".join(f"{value}{unit}" for value, unit in parts[first:first + 2])


def first_line(text):
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def console_url(record):
    """The clone's page in the AWS console, region from its endpoint; None once deleted or without an endpoint."""
    match = _ENDPOINT_REGION.search(record.endpoint or "")
    if record.state == lifecycle.DELETED or not match:
        return None
    region, china = match.groups()
    host = "console.amazonaws.cn" if china else f"{region}.console.aws.amazon.com"
    return f"https://{host}/rds/home?region={region}#database:id={record.cluster_id};is-cluster=true"


def state_badge(state, title=None):
    return format_html('<span class="devdb-badge devdb-state-{}"{}>{}{}</span>', state or "none",
                       format_html(' title="{}"', title) if title else "", STATE_MARKS.get(state, ""), state or EMPTY)


def branch_badge(state, name):
    """A branch's state: outlined in blue, without the live dot, so a connected branch never looks like the
    clone the stable name points at."""
    return format_html('<span class="devdb-badge devdb-branch devdb-branch-{}" title="branch {} (branch_devdb)">'
                       '{}</span>', state or "none", name, state or EMPTY)


def record_badge(record):
    """The record's state badge; a failed clone's says 'failed' whatever became of it since; a branch's is its own."""
    if record.failed:
        return state_badge(FAILED, f"never ready: aborted{', then deleted' if record.state == lifecycle.DELETED else ''}")
    if record.branch:
        return branch_badge(record.state, record.branch)
    return state_badge(record.state)


def _configured_targets():
    """{target name: record name} from settings.DEVDB as written (no validation, no AWS)."""
    raw = getattr(settings, "DEVDB", None)
    targets = raw.get("TARGETS") if isinstance(raw, dict) else None
    if not isinstance(targets, dict):
        return {}
    return {str(name): (spec.get("RECORD_NAME", "") if isinstance(spec, dict) else "") for name, spec in targets.items()}


def where_names_point():
    """Per target, from the records: the clone its stable name points at, the newest clone if it failed (the
    last run failed), the run lease. Queries: 2 x targets + 5, whatever the number of records (none reads
    every record: see newest_failed).

    The clone pointed at is the newest (by connected time) record in state `connected` of each target.
    Configured targets without one are listed with record None.
    """
    daily = CloneRecord.objects.filter(branch="")  # a branch's CNAME is not the stable name
    newest = (daily.filter(state=lifecycle.CONNECTED, target=OuterRef("target"))
              .order_by("-connected_at", "-id").values("id")[:1])
    live = {r.target: r for r in with_moves(CloneRecord.objects.filter(state=lifecycle.CONNECTED, id=Subquery(newest)))}
    failed = {r.target: r for r in newest_failed()}
    leases = {lease.target: lease for lease in TargetLease.objects.exclude(target__contains="/")}  # not branches
    configured = _configured_targets()
    now = timezone.now()
    rows = []
    for name in sorted(set(configured) | set(live) | set(leases) | set(failed)):
        record, lease, failure = live.get(name), leases.get(name), failed.get(name)
        rows.append({
            "target": name, "record_name": configured.get(name, ""), "record": record,
            "since": format_time(record.connected_at) if record else None,
            "live_for": format_duration(record.live_for) if record else None,
            "failed": failure,
            "failed_at": format_time(failure.aborted_at or failure.state_since) if failure else None,
            "failed_error": first_line(failure.last_error) if failure else None,
            "lease": lease,
            "lease_since": format_time(lease.acquired_at) if lease else None,
            "lease_expires": format_time(lease.expires_at) if lease else None,
            "lease_expired": bool(lease and lease.expires_at <= now),
        })
    return rows


def _masking_targets():
    """Names of targets configured with MASK (as written; no validation)."""
    raw = getattr(settings, "DEVDB", None)
    targets = raw.get("TARGETS") if isinstance(raw, dict) else None
    if not isinstance(targets, dict):
        return set()
    return {str(n) for n, spec in targets.items() if isinstance(spec, dict) and spec.get("MASK") in (True, "true", "1")}


def masked_badge(obj, masking_targets):
    """'masked' (report in the title), 'masking failed', or for a masking target 'UNMASKED' in red."""
    report = obj.masking
    if report:
        verification = report.get("verification") or {}
        title = (f"rules {report.get('fingerprint')}: {report.get('rows')} rows in {report.get('seconds')}s, "
                 f"{verification.get('checks', 0)} checks")
        if verification.get("ok"):
            return format_html('<span class="devdb-badge devdb-masked" title="{}">masked</span>', title)
        return format_html('<span class="devdb-badge devdb-unmasked" style="background:#ba2121;color:#fff" '
                           'title="{}">masking failed</span>', "; ".join(verification.get("failures", [])) or title)
    if obj.target in masking_targets:
        return mark_safe('<span class="devdb-badge devdb-unmasked" style="background:#ba2121;color:#fff" '
                         'title="this target masks its clones, and this clone has no masking report">UNMASKED</span>')
    return None


class FailedFilter(admin.SimpleListFilter):
    """Clones that failed (aborted before they were ever ready), whether deleted since or not."""

    title = "failed"
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return [("yes", "failed (never ready)"), ("no", "not failed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(failed_filter())
        if self.value() == "no":
            return queryset.exclude(failed_filter())
        return queryset


class KindFilter(admin.SimpleListFilter):
    """The daily clones, or the branches (branch_devdb)."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("daily", "daily"), ("branch", "branch")]

    def queryset(self, request, queryset):
        if self.value() == "daily":
            return queryset.filter(branch="")
        if self.value() == "branch":
            return queryset.exclude(branch="")
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is not edited by hand."""

    actions = None
    empty_value_display = EMPTY

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CloneRecord)
class CloneRecordAdmin(ReadOnlyAdmin):
    list_display = ("cluster_id", "target", "state_badge", "created", "ready", "connected", "aborted", "deleted",
                    "live", "endpoint_display")
    list_filter = ("target", "state", FailedFilter, KindFilter)
    search_fields = ("cluster_id",)
    search_help_text = "Search by clone (cluster id)."
    show_full_result_count = False  # never count the whole table a second time
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("cluster_id", "target", "state_badge", "since", "source", "instance_id", "endpoint",
                           "aws_console")}),
        ("Times", {"fields": ("created", "ready", "connected", "aborted", "deleted", "live_history")}),
        ("Branch", {"fields": ("branch", "owner", "expires", "branch_host")}),
        ("Masking", {"fields": ("masked", "masking_report")}),
        ("Last error", {"fields": ("error", "updated")}),
    )
    readonly_fields = ("cluster_id", "target", "state_badge", "since", "source", "instance_id", "endpoint",
                       "aws_console", "created", "ready", "connected", "aborted", "deleted", "live_history", "error",
                       "updated", "masked", "masking_report", "expires", "branch_host")

    def get_queryset(self, request):
        return with_moves(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        """Masking only for a masked clone or a masking target's; the error only when there is one."""
        shown = {"Masking": obj is not None and (obj.masking or obj.target in _masking_targets()),
                 "Last error": obj is not None and obj.last_error, "Branch": obj is not None and obj.branch}
        return [fieldset for fieldset in self.fieldsets if shown.get(fieldset[0], True)]

    # --- columns and fields -------------------------------------------------------------------------

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        badge = record_badge(obj)
        from .masking.gate import masking_on

        masked = masked_badge(obj, _masking_targets()) if masking_on() else None
        if masked:  # under the state, where it costs the list no width
            badge = format_html('{}<div class="devdb-masked-line">{}</div>', badge, masked)
        if obj.failed and obj.last_error:
            line = first_line(obj.last_error)
            return format_html('{}<div class="devdb-error" title="{}">{}</div>', badge, line, line)
        below = []
        if obj.branch:  # a branch's name, host, owner and expiry, under its badge as a failure's error is
            below.append(self.branch_display(obj))
        return format_html("{}{}", badge, format_html_join("", "{}", ((part,) for part in below))) if below else badge

    @admin.display(description="state since")
    def since(self, obj):
        return format_time(obj.state_since)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return format_time(obj.created_at)

    @admin.display(description="ready", ordering="ready_at")
    def ready(self, obj):
        return format_time(obj.ready_at)

    @admin.display(description="connected", ordering="connected_at")
    def connected(self, obj):
        return format_time(obj.connected_at)

    @admin.display(description="aborted", ordering="aborted_at")
    def aborted(self, obj):
        return format_time(obj.aborted_at)

    @admin.display(description="deleted", ordering="deleted_at")
    def deleted(self, obj):
        return format_time(obj.deleted_at)

    @admin.display(description="live for")
    def live(self, obj):
        periods = obj.live_periods
        if not periods:
            return EMPTY
        spans = format_html_join("\n", "{} \u2192 {}", ((time_text(start), time_text(end) if end else "now")
                                                         for start, end in periods))
        text = format_duration(obj.live_for)
        return format_html('<span class="devdb-live{}" title="{}">{}</span>{}',
                           " devdb-live-now" if periods[-1][1] is None else "", spans, text,
                           format_html(' <span class="devdb-periods">in {} periods</span>', len(periods))
                           if len(periods) > 1 else "")

    @admin.display(description="live for")
    def live_history(self, obj):
        """The detail page's "live for": the total, then each period."""
        periods = obj.live_periods
        if not periods:
            return EMPTY
        return format_html('<span class="devdb-live">{}</span><ul class="devdb-periods-list">{}</ul>',
                           format_duration(obj.live_for),
                           format_html_join("", "<li>{} \u2192 {}</li>", ((format_time(start), format_time(end) if end else "now")
                                                                   for start, end in periods)))

    @admin.display(description="endpoint", ordering="endpoint")
    def endpoint_display(self, obj):
        if not obj.endpoint:
            return EMPTY
        url = console_url(obj)
        link = format_html('<a class="devdb-console" href="{}" target="_blank" rel="noopener" '
                           'title="This clone in the AWS console">AWS</a> ', url) if url else ""
        return format_html('{}<code class="devdb-endpoint" title="{}">{}</code>', link, obj.endpoint, obj.endpoint)

    @admin.display(description="AWS console")
    def aws_console(self, obj):
        url = console_url(obj)
        if url is None:
            return "deleted" if obj.state == lifecycle.DELETED else EMPTY
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url.split("#", 1)[0])

    @admin.display(description="last error")
    def error(self, obj):
        return obj.last_error

    @admin.display(description="record updated")
    def updated(self, obj):
        return format_time(obj.updated_at)

    @admin.display(description="branch host")
    def branch_host(self, obj):
        """<NAME>.<RECORD_NAME> of a branch (the target as configured now); empty for a daily clone."""
        target = conf.get_settings().targets.get(obj.target) if obj.branch and not conf.problems() else None
        return f"{obj.branch}.{target.record_name}" if target else EMPTY

    @admin.display(description="expires")
    def expires(self, obj):
        return format_time(obj.expires_at)

    def branch_display(self, obj):
        """A branch's name, its host, owner and expiry (shown under its state badge in the list)."""
        host = self.branch_host(obj)
        return format_html('<div class="devdb-branch-info"><strong class="devdb-branch-name">branch {}</strong>'
                           '<span class="devdb-branch-detail">{}{}expires {}</span></div>', obj.branch,
                           format_html("<code>{}</code><br>", host) if host != EMPTY else "",
                           format_html("owner {}, ", obj.owner) if obj.owner else "", format_time(obj.expires_at))

    @admin.display(description="masked")
    def masked(self, obj):
        return masked_badge(obj, _masking_targets())

    @admin.display(description="masking report")
    def masking_report(self, obj):
        if not obj.masking:
            return None
        return format_html("<pre>{}</pre>", json.dumps(obj.masking, indent=2, default=str))

    # --- pages ------------------------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        # The history is the widest table in the admin: it gets the whole window (1280 px holds it).
        extra_context = {**(extra_context or {}), "devdb_points_now": where_names_point(),
                         "is_nav_sidebar_enabled": False}
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["devdb_events"] = [(format_time(e.at), e) for e in obj.events.all()] if obj is not None else []
        context["devdb_console_url"] = console_url(obj) if obj is not None else None
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def history_view(self, request, object_id, extra_context=None):
        """The admin's own history is empty (nobody edits records): the timeline is the history."""
        return redirect(reverse("admin:devdb_clonerecord_change", args=[object_id]) + "#devdb-timeline")


def holder_alive(lease, host=None):
    """Whether the lease's holder provably still runs: on this host, with its pid alive, lease not expired.

    From another host nobody can tell; the operator releasing it says the run is gone."""
    return (lease.expires_at > timezone.now() and lease.host == (host or socket.gethostname())
            and pid_alive(lease.pid))


@admin.register(TargetLease)
class TargetLeaseAdmin(ReadOnlyAdmin):
    """Who runs each target now. A lease whose holder died is taken over by the next run on the same host
    at once, elsewhere only when it expires: releasing it here lets the next run start now."""

    list_display = ("target", "holder", "since", "expires")
    actions = ["release"]
    fields = readonly_fields = ("target", "holder", "since", "expires")

    @admin.display(description="held by")
    def holder(self, obj):
        return f"{obj.host} pid {obj.pid}"

    @admin.display(description="since", ordering="acquired_at")
    def since(self, obj):
        return format_time(obj.acquired_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj):
        if obj.expires_at <= timezone.now():
            return format_html('{} <span class="devdb-expired">(expired)</span>', format_time(obj.expires_at))
        return format_time(obj.expires_at)

    def has_release_permission(self, request):
        return request.user.has_perm("devdb.delete_targetlease")

    @admin.action(permissions=["release"], description="Release the selected run leases (their run is gone)")
    def release(self, request, queryset):
        for lease in queryset:
            held = f"held by {lease.host} pid {lease.pid} since {time_text(lease.acquired_at)}"
            if holder_alive(lease):
                self.message_user(request, f"{lease.target}: not released, its run is still alive ({held}).",
                                  messages.ERROR)
                continue
            # Only the lease as shown: a run that took it over meanwhile keeps its own.
            released, _ = TargetLease.objects.filter(target=lease.target, token=lease.token).delete()
            if not released:
                self.message_user(request, f"{lease.target}: not released, the lease changed meanwhile.", messages.WARNING)
                continue
            message = f"run lease released in the admin by {request.user.get_username()} ({held})"
            LogEntry.objects.log_actions(request.user.pk, [lease], DELETION, change_message=message, single_object=True)
            logger.warning("[%s] %s", lease.target, message)
            newest = history.open_records(lease.target).order_by("-created_at", "-id").first()
            if newest is not None:
                history.note(newest.cluster_id, timezone.now(), message)
            self.message_user(request, f"{lease.target}: {message}.", messages.SUCCESS)
