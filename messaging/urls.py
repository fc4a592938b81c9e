"""Provider webhooks, under ``/webhooks/`` (``config/urls.py``)."""

from django.urls import path

from messaging import webhooks

app_name = "messaging"

urlpatterns = [
    path("twilio/status", webhooks.twilio_status, name="twilio-status"),
    path("twilio/inbound", webhooks.twilio_inbound, name="twilio-inbound"),
    path(
        "twilio/voice/keypad", webhooks.twilio_voice_keypad, name="twilio-voice-keypad"
    ),
    path("sinch/status", webhooks.sinch_status, name="sinch-status"),
    path("sinch/inbound", webhooks.sinch_inbound, name="sinch-inbound"),
]
