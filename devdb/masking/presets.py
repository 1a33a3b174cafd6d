"""Ready-made masking decisions for Django's own apps, included in one line:

    from devdb.masking import presets

    DEVDB["MASKING"] = {**presets.DJANGO, "shop.Customer": {...}, ...}

DJANGO decides every table of the apps `startproject` installs (admin, auth, contenttypes,
sessions), Django's migration table and devdb's own tables (normally in the control database, kept
if they are in the app's). SITES adds django.contrib.sites. A key of your own replaces the preset's
(e.g. your own "auth.User" dict). A preset naming an app you did not install is a system check error,
so the apps that not every project has are separate presets.
"""

from .rules import Hash

DJANGO = {
    "auth.User": {
        "password": "unusable_password",  # check_password() is always False
        "username": Hash(length=16),  # unique stays unique, the same name hashes the same everywhere
        "first_name": "first_name", "last_name": "last_name",
        "email": "email",
        "last_login": "shift_date", "date_joined": "shift_date",
        "is_superuser": "keep", "is_staff": "keep", "is_active": "keep",
        "groups": "keep", "user_permissions": "keep",  # the many-to-many tables: ids only
    },
    "auth.Group": "keep",  # and its permissions table
    "auth.Permission": "keep",
    "admin.LogEntry": {
        "object_repr": "text",  # str(obj) of what was edited: often a person's name or email
        "change_message": "text",  # may quote changed values
        "object_id": "keep", "action_time": "keep", "user": "keep", "content_type": "keep", "action_flag": "keep",
    },
    "sessions.Session": "truncate",  # logged-in sessions: never carried into dev
    "contenttypes.ContentType": "keep",
    "table:django_migrations": "keep",
    "devdb.CloneRecord": "keep",
    "devdb.CloneEvent": "keep",
    "devdb.TargetLease": "keep",
}

SITES = {"sites.Site": "keep"}
