from django.apps import AppConfig


class ShopConfig(AppConfig):
    """An example app with personal data, masked by the rules in project/settings.py."""

    name = "project.shop"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"
