"""Reminder rules, waitlists and recurring care reminders: what staff schedule
and the workers deliver through messaging (issue 6; campaigns are their own app).

The models live with their sub-domain; Django finds them here."""

from outreach.recurring.models import CareSchedule
from outreach.reminders.models import Reminder, ReminderRule
from outreach.waitlist.models import SlotOffer, SlotOfferRecipient, WaitlistEntry

__all__ = [
    "CareSchedule",
    "Reminder",
    "ReminderRule",
    "SlotOffer",
    "SlotOfferRecipient",
    "WaitlistEntry",
]
