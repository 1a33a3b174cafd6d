from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rehearsal_app", "0003_item_code_unique")]
    operations = [migrations.AddField("item", "size", models.IntegerField(default=0))]
