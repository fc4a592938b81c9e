from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent and preferences")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from clinic.models import Organization
        from consent import contact_points, services

        contact_points.connect()
        post_save.connect(
            services.policy_with_new_organization,
            sender=Organization,
            dispatch_uid="consent.services.policy_with_new_organization",
        )
