"""The clone history, read-only: nobody edits history by hand."""

from django.contrib import admin

from .models import CloneEvent, CloneRecord


class CloneEventInline(admin.TabularInline):
    model = CloneEvent
    fields = ("at", "from_state", "to_state", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CloneRecord)
class CloneRecordAdmin(admin.ModelAdmin):
    list_display = ("cluster_id", "target", "state", "created_at", "ready_at", "connected_at", "aborted_at",
                    "deleted_at", "live_for", "endpoint")
    list_filter = ("target", "state")
    search_fields = ("cluster_id",)
    date_hierarchy = "created_at"
    inlines = [CloneEventInline]
    readonly_fields = [f.name for f in CloneRecord._meta.fields if f.name != "id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
