# GenerationRun moved here from plans; its table (plans_generationrun) and index stay as
# they are, so this only moves Django's state.

import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("sessions_app", "0001_initial"),
        ("plans", "0002_move_generationrun_to_sessions_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="GenerationRun",
                    fields=[
                        ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ("started_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("outcome", models.CharField(choices=[("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed"), ("cancelled", "Cancelled")], default="running", max_length=12)),
                        ("documents_total", models.PositiveIntegerField(default=0)),
                        ("documents_processed", models.PositiveIntegerField(default=0)),
                        ("resumed_from", models.PositiveIntegerField(default=0)),
                        ("builder", models.CharField(max_length=20)),
                        ("model", models.CharField(blank=True, max_length=200)),
                        ("prompt_tokens", models.PositiveIntegerField(blank=True, null=True)),
                        ("completion_tokens", models.PositiveIntegerField(blank=True, null=True)),
                        ("cost", models.DecimalField(blank=True, decimal_places=6, max_digits=12, null=True)),
                        ("error", models.TextField(blank=True)),
                        ("session", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="generation_runs", to="sessions_app.studysession")),
                    ],
                    options={
                        "db_table": "plans_generationrun",
                        "ordering": ["-started_at"],
                        "indexes": [models.Index(fields=["session", "outcome"], name="run_session_outcome")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
