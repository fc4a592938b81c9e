from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import planner, reached
        from core import hooks
        from core.scheduler import register_due
        from messaging.services.delivering import register_still_wanted

        register_due(self, "campaigns", planner.campaigns_plan_due)
        register_still_wanted("campaign", planner.deliveries_still_wanted)
        # Feedback's campaign trigger asks who the message reached.
        hooks.provide("campaigns.recipients_reached", reached.recipients_reached)
