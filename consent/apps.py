from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent and preferences")

    def ready(self) -> None:
        from consent import contact_points

        contact_points.connect()
