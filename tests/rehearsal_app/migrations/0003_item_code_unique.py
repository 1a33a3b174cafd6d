from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rehearsal_app", "0002_item_note")]
    operations = [migrations.AlterField("item", "code", models.CharField(max_length=40, unique=True))]
