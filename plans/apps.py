from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "Study plans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from plans import live
        from studyplanner.lifecycle import on_shutdown

        # Running generations save their progress and hand their claims back first.
        on_shutdown(live.shutdown)
