"""Kept for migration 0002, which imports ``validate_offsets`` from here (a
landed migration is never edited); the offsets live in
``outreach.reminders.offsets``."""

from outreach.reminders.offsets import validate_offsets

__all__ = ["validate_offsets"]
