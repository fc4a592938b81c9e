from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Feedback")

    def ready(self) -> None:
        from consent.gdpr import registry
        from core.scheduler import register_due
        from feedback import gdpr
        from feedback.triggers import surveys_invite_due

        registry.register_exporter("survey_responses", gdpr.responses_export)
        registry.register_fhir_exporter(gdpr.responses_fhir)
        registry.register_eraser(gdpr.responses_erase)
        register_due(self, "surveys", surveys_invite_due)
