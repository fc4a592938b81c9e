from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from core.schedules import every_minute, schedules_keep

        schedules_keep(
            self,
            {
                "insights: day counts compacted": every_minute(
                    "insights.tasks.day_counts_compact"
                )
            },
        )
