"""Reminder rules, waitlists, recurring care reminders and campaigns: what
staff schedule and the workers deliver through messaging (issue 6)."""
