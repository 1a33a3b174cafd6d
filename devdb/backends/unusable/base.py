"""A database backend that refuses to connect: every alias but `default` in a migration child process
(devdb.rehearsal), so migration code that names another alias fails loudly instead of writing there."""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.dummy import base as dummy


class DatabaseWrapper(dummy.DatabaseWrapper):
    def complain(self, *args, **kwargs):
        raise ImproperlyConfigured(
            f"DATABASES[{self.alias!r}] is out of reach while migrations run on a copy: "
            "only 'default' (the copy) may be used")

    ensure_connection = _cursor = _commit = connect = complain
