from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from anymail.signals import tracking

        from core.schedules import every_minute, schedules_keep
        from messaging import checks  # noqa: F401 - registers the system checks
        from messaging.credentials import encrypted_column_register
        from messaging.email.events import on_tracking

        encrypted_column_register("messaging.SenderIdentity", "secret_encrypted")
        from messaging import retention

        retention.register()
        tracking.connect(on_tracking, dispatch_uid="messaging.email.events")
        schedules_keep(
            self,
            {
                "messaging: deliveries due": every_minute(
                    "messaging.tasks.deliveries_requeue_due"
                ),
                "messaging: escalations due": every_minute(
                    "messaging.tasks.messages_escalate_due"
                ),
                # Codes and links erased once expired (services.redaction).
                "messaging: expired secrets": every_minute(
                    "messaging.tasks.message_secrets_expire"
                ),
            },
        )

        from consent.gdpr import registry
        from messaging import gdpr

        registry.register_exporter("messages", gdpr.messages_export)
        registry.register_eraser(gdpr.messages_erase)
