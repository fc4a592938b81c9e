from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import planner
        from messaging.services.delivering import register_still_wanted
        from outreach.scheduler import register_due

        register_due("campaigns", planner.campaigns_plan_due)
        register_still_wanted("campaign", planner.deliveries_still_wanted)
