from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = _("Clinic")

    def ready(self) -> None:
        from clinic import retention
        from core.schedules import schedules_keep

        # The access audit's period, and the nightly purge of every data
        # class past its own (core.retention). Declared by the bottom app so
        # post_migrate (sent to apps with models) restores it.
        retention.register()
        schedules_keep(
            self,
            {
                "retention: nightly purge": {
                    "func": "core.retention.purge_expired",
                    "schedule_type": "D",
                    "repeats": -1,
                }
            },
        )
