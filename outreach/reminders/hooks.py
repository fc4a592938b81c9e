"""Where reminders plug into the rest: clinic's signal, the due scheduler,
messaging's reply and keypad handlers. Called once from OutreachConfig.ready."""

from __future__ import annotations


def connect() -> None:
    from clinic.signals import appointment_changed
    from messaging.inbound import register_reply_handler
    from messaging.webhooks import register_keypad_handler
    from outreach.reminders.answers import reminder_keypad_answer, reminder_sms_answer
    from outreach.reminders.planner import reminders_send_due
    from outreach.reminders.services import on_appointment_changed
    from outreach.scheduler import register_due

    appointment_changed.connect(
        on_appointment_changed, dispatch_uid="outreach.reminders"
    )
    register_due("reminders", reminders_send_due)
    register_reply_handler(reminder_sms_answer)
    register_keypad_handler(reminder_keypad_answer)
