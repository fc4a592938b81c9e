"""What feedback tells other apps (the partner API's webhooks, follow-ups)."""

from django.dispatch import Signal

#: Sent on commit when a response is submitted; args: ``response``.
survey_completed = Signal()
