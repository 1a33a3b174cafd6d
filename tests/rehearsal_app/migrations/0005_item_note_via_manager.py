"""A data migration written the ordinary way: the historical model's default manager, no `using`."""

from django.db import migrations


def forwards(apps, schema_editor):
    Item = apps.get_model("rehearsal_app", "Item")
    Item.objects.filter(note="").update(note="via manager")


class Migration(migrations.Migration):
    dependencies = [("rehearsal_app", "0004_item_size")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
