"""The plan app keeps no tables of its own yet; a generation's run history lives with the
status machine that opens and closes it (sessions_app.models.GenerationRun)."""
