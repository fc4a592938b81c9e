"""Where reminders plug into the rest: clinic's signal, the due scheduler,
messaging's reply and keypad handlers. Called once from OutreachConfig.ready
(and imported only there, once every app's models are loaded)."""

from __future__ import annotations

from django.apps import AppConfig

from clinic.signals import appointment_changed
from core.scheduler import register_due
from messaging.inbound import register_reply_handler
from messaging.webhooks import register_keypad_handler
from outreach.reminders.answers import reminder_keypad_answer, reminder_sms_answer
from outreach.reminders.planner import reminders_send_due
from outreach.reminders.services import on_appointment_changed


def connect(app_config: AppConfig) -> None:
    appointment_changed.connect(
        on_appointment_changed, dispatch_uid="outreach.reminders"
    )
    register_due(app_config, "reminders", reminders_send_due)
    register_reply_handler(reminder_sms_answer)
    register_keypad_handler(reminder_keypad_answer)
