"""Reminder rules, waitlists and recurring care reminders: what staff schedule
and the workers deliver through messaging (issue 6; campaigns are their own app)."""

from outreach.models_recurring import CareSchedule  # noqa: F401
from outreach.models_reminders import Reminder, ReminderRule  # noqa: F401
from outreach.models_waitlist import SlotOffer, SlotOfferRecipient, WaitlistEntry  # noqa: F401
