"""The clone history in the Django admin, read-only: nobody edits history by hand.

The changelist shows each clone with its state as a coloured badge, the time of each state, how
long the stable name pointed at it and its endpoint; the connected clone stands out. Above the list,
per target, where the stable name points now, read from the records (never AWS: rendering a page
makes no AWS call). The change page shows the clone's event timeline.

The changelist costs the same number of queries with 10 records or 10,000: no per-row queries, one
query for the "points now" banner, no full-table count (show_full_result_count = False).
"""

import json
from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from . import lifecycle
from .models import CloneRecord

TIME_FORMAT = "%b %d %H:%M"  # the year is added when it is not this year; the full time is in the title
STATE_MARKS = {lifecycle.CONNECTED: "\u25cf "}  # the live clone gets a dot before its state


def format_duration(delta):
    """'23h 59m', '1 day, 0:00', '5m', '<1m'; None -> None. Negative (clock skew) counts as 0."""
    if delta is None:
        return None
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}, {hours}:{minutes:02d}"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes or delta >= timedelta(minutes=1):
        return f"{minutes}m"
    return "<1m"


def _time(value, after=None):
    """'Nov 22 05:03'; just '05:03' on the same day as `after` (the row's previous time); year if not this year."""
    if value is None:
        return None
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    if after is not None and (timezone.localtime(after) if timezone.is_aware(after) else after).date() == local.date():
        short = local.strftime("%H:%M")
    else:
        short = local.strftime(TIME_FORMAT if local.year == timezone.localtime().year else "%Y " + TIME_FORMAT)
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(),
                       local.strftime("%Y-%m-%d %H:%M:%S %Z"), short)


def _before(obj, field):
    """The row's latest time before `field` (the order of the lifecycle), for eliding a repeated date."""
    order = ["created_at", "ready_at", "connected_at", "aborted_at", "deleted_at"]
    for name in reversed(order[:order.index(field)]):
        if getattr(obj, name):
            return getattr(obj, name)
    return None


def state_badge(state):
    return format_html('<span class="devdb-badge devdb-state-{}">{}{}</span>', state or "none",
                       STATE_MARKS.get(state, ""), state or "\u2014")


def _configured_targets():
    """{target name: record name} from settings.DEVDB as written (no validation, no AWS)."""
    raw = getattr(settings, "DEVDB", None)
    targets = raw.get("TARGETS") if isinstance(raw, dict) else None
    if not isinstance(targets, dict):
        return {}
    return {str(name): (spec.get("RECORD_NAME", "") if isinstance(spec, dict) else "") for name, spec in targets.items()}


def where_names_point():
    """Per target, the clone its stable name points at according to the records: one query.

    That is the newest (by connected time) record in state `connected` of each target. Configured
    targets without one are listed with record None.
    """
    newest = (CloneRecord.objects.filter(state=lifecycle.CONNECTED, target=OuterRef("target"))
              .order_by("-connected_at", "-id").values("id")[:1])
    live = {r.target: r for r in CloneRecord.objects.filter(state=lifecycle.CONNECTED, id=Subquery(newest))}
    configured = _configured_targets()
    return [
        {"target": name, "record_name": configured.get(name, ""), "record": live.get(name),
         "live_for": format_duration(live[name].live_for) if name in live else None}
        for name in sorted(set(configured) | set(live))
    ]


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


@admin.register(CloneRecord)
class CloneRecordAdmin(admin.ModelAdmin):
    list_display = ("cluster_id", "target", "state_badge", "created", "ready", "connected", "aborted", "deleted",
                    "live", "endpoint_display")
    list_filter = ("target", "state")
    search_fields = ("cluster_id",)
    search_help_text = "Search by clone (cluster id)."
    show_full_result_count = False  # never count the whole table a second time
    list_per_page = 50
    actions = None
    empty_value_display = "\u2013"
    fieldsets = (
        (None, {"fields": ("cluster_id", "target", "state_badge", "state_since", "source", "instance_id",
                           "endpoint")}),
        ("Times", {"fields": ("created_at", "ready_at", "connected_at", "aborted_at", "deleted_at", "live")}),
        ("Last error", {"fields": ("last_error", "updated_at")}),
        ("Masking", {"fields": ("masked", "masking_report")}),
    )
    readonly_fields = ("cluster_id", "target", "state_badge", "state_since", "source", "instance_id", "endpoint",
                       "created_at", "ready_at", "connected_at", "aborted_at", "deleted_at", "live", "last_error",
                       "updated_at", "masked", "masking_report")

    # --- read-only --------------------------------------------------------------------------------

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- columns ----------------------------------------------------------------------------------

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return _time(obj.created_at)

    @admin.display(description="ready", ordering="ready_at")
    def ready(self, obj):
        return _time(obj.ready_at, _before(obj, "ready_at"))

    @admin.display(description="connected", ordering="connected_at")
    def connected(self, obj):
        return _time(obj.connected_at, _before(obj, "connected_at"))

    @admin.display(description="aborted", ordering="aborted_at")
    def aborted(self, obj):
        return _time(obj.aborted_at, _before(obj, "aborted_at"))

    @admin.display(description="deleted", ordering="deleted_at")
    def deleted(self, obj):
        return _time(obj.deleted_at, _before(obj, "deleted_at"))

    @admin.display(description="live for")
    def live(self, obj):
        text = format_duration(obj.live_for)
        if text and obj.state == lifecycle.CONNECTED:
            return format_html('<span class="devdb-live" title="so far: the stable name points here">{}</span>', text)
        return text

    @admin.display(description="endpoint", ordering="endpoint")
    def endpoint_display(self, obj):
        if not obj.endpoint:
            return None
        return format_html('<code class="devdb-endpoint" title="{}">{}</code>', obj.endpoint, obj.endpoint)

    def get_list_display(self, request):
        """The "masked" column appears when masking is configured (DEVDB["MASKING"] or a target's MASK)."""
        from .masking.gate import masking_on

        return (*self.list_display, "masked") if masking_on() else self.list_display

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
        extra_context = {**(extra_context or {}), "devdb_points_now": where_names_point()}
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["devdb_events"] = list(obj.events.all()) if obj is not None else []
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
