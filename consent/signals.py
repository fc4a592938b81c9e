"""Signals consent sends so that apps built on it react to its changes
without consent knowing them (DESIGN.md: nothing in a domain app imports
``api``)."""

from django.dispatch import Signal

# Sent inside the transaction of ``consent_record`` with ``event`` (the new
# ConsentEvent, saved): every grant or withdrawal, from any source.
consent_changed = Signal()
