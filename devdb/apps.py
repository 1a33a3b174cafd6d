from django.apps import AppConfig


class DevdbConfig(AppConfig):
    name = "devdb"
    verbose_name = "Dev database clones"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
