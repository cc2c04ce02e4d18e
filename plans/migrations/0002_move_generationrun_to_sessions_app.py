# GenerationRun moved to sessions_app (the status machine that opens and closes runs lives
# there, and sessions_app must not import plans). The table stays; only Django's state moves.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("plans", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="GenerationRun")],
            database_operations=[],
        ),
    ]
