"""The example project is the admin: its home page is the clone history."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

# There is no site besides the admin: no "View site" link, and "/" opens the history.
admin.site.site_url = None

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:devdb_clonerecord_changelist")),
    path("admin/", admin.site.urls),
]
