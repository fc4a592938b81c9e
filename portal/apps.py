from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Patient portal")

    def ready(self) -> None:
        from consent.gdpr import registry
        from portal.contact_points.services import contact_changes_erase

        # A pending change holds an address the patient typed: erased with them.
        registry.register_eraser(contact_changes_erase)
