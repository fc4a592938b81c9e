"""Signals clinic sends so that apps built on it react to its changes without
clinic knowing them (clinic imports no other domain app, DESIGN.md)."""

from django.dispatch import Signal

# Sent inside the transaction that created, moved, confirmed or cancelled an
# appointment (admin, API, import, portal, one-tap link, SMS answer), with
# ``appointment`` (saved), ``created`` (bool) and ``previous_status`` (the
# status before this change; None when created). Receivers write in the same
# transaction: pending reminders are rescheduled or cancelled "at once".
appointment_changed = Signal()
