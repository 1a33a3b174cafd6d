"""A data migration through a raw cursor on `django.db.connection` (the default database)."""

from django.db import connection, migrations


def forwards(apps, schema_editor):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rehearsal_app_item SET size = size + 7")


class Migration(migrations.Migration):
    dependencies = [("rehearsal_app", "0005_item_note_via_manager")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
