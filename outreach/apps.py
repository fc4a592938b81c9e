from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = _("Reminders and waitlists")

    def ready(self) -> None:
        from clinic.signals import appointment_changed
        from messaging.inbound import register_reply_handler
        from outreach.recurring import services as recurring
        from outreach.reminders import hooks as reminders_hooks
        from outreach.waitlist import services as waitlist

        # Before the reminders' handler: OUI/YES answers whichever of an offer
        # and a reminder came last, and the offer's handler decides that.
        register_reply_handler(waitlist.slot_offer_sms_answer)
        reminders_hooks.connect(self)
        recurring.register(self)
        appointment_changed.connect(
            waitlist.on_appointment_changed, dispatch_uid="outreach.waitlist"
        )
