from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Partner API")

    def ready(self) -> None:
        from api import webhooks_receivers
        from api.webhooks_sending import webhook_deliveries_due
        from outreach.scheduler import register_due

        # Domain signals → webhook events; retries found by the one due job.
        webhooks_receivers.connect()
        register_due("webhooks", webhook_deliveries_due)
