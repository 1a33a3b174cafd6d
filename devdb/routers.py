"""Keep django-devdb's tables in the control database, never in the (daily replaced) dev database."""

from .conf import control_database


class DevdbRouter:
    app_label = "devdb"

    def db_for_read(self, model, **hints):
        if model._meta.app_label == self.app_label:
            return control_database()
        return None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        labels = {obj1._meta.app_label, obj2._meta.app_label}
        if self.app_label in labels:
            return labels == {self.app_label}
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        alias = control_database()
        if app_label == self.app_label:
            return db == alias
        if db == alias:
            return False
        return None
