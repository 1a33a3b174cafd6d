from django.db import models


class Item(models.Model):
    """As the migrations leave it (a models module also makes Django send this app post_migrate)."""

    id = models.BigAutoField(primary_key=True)
    code = models.CharField(max_length=40, unique=True)
    note = models.CharField(max_length=100, default="")
    size = models.IntegerField(default=0)
