from django.apps import AppConfig
from django.db.models.signals import post_migrate


def after_migrate(sender, apps, plan=None, **kwargs):
    """A post_migrate receiver written the ordinary way (no `using`): once 0006 was applied, it marks the rows."""
    if any(m.app_label == "rehearsal_app" and m.name == "0006_item_size_via_cursor" and not backwards
           for m, backwards in plan or ()):
        apps.get_model("rehearsal_app", "Item").objects.filter(note="via manager").update(note="via manager, signal")


class RehearsalAppConfig(AppConfig):
    name = "tests.rehearsal_app"
    label = "rehearsal_app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(after_migrate, sender=self)
