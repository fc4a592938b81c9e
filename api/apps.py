from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Partner API")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from api import gdpr
        from api.idempotency import idempotency_purge
        from api.keys import api_key_cache_clear
        from api.models import ApiKey
        from api.webhooks import emitters as webhook_emitters
        from api.webhooks.sending import webhook_deliveries_due
        from clinic.models import Organization
        from consent.gdpr import registry
        from core.scheduler import register_due
        from messaging.credentials import encrypted_column_register

        # A key read from the cache never outlives a change saved here.
        for model in (ApiKey, Organization):
            post_save.connect(
                api_key_cache_clear, sender=model, dispatch_uid=f"{model}"
            )
            post_delete.connect(
                api_key_cache_clear, sender=model, dispatch_uid=f"{model}-deleted"
            )
        # Signing secrets at rest: re-encrypted by ``manage.py secrets_rotate``.
        encrypted_column_register("api.WebhookSubscription", "secret_encrypted")
        # Domain signals → webhook events; retries found by their own finder.
        webhook_emitters.connect()
        register_due(self, "webhooks", webhook_deliveries_due)
        # Replayable answers live a day (one indexed DELETE a minute).
        register_due(self, "idempotency", lambda now: idempotency_purge(now=now))
        registry.register_eraser(gdpr.idempotency_records_erase)
        # Finished webhook deliveries go after their period (core.retention).
        from api import retention

        retention.register()
