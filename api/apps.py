from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Partner API")

    def ready(self) -> None:
        from api import gdpr, webhooks_receivers
        from api.idempotency import idempotency_purge
        from api.webhooks_sending import webhook_deliveries_due
        from consent.gdpr import registry
        from outreach.scheduler import register_due

        # Domain signals → webhook events; retries found by the one due job.
        webhooks_receivers.connect()
        register_due("webhooks", webhook_deliveries_due)
        # Replayable answers live a day (one indexed DELETE a minute).
        register_due("idempotency", lambda now: idempotency_purge(now=now))
        registry.register_eraser(gdpr.idempotency_records_erase)
