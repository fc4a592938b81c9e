"""Django finds the admin here; each sub-domain keeps its own (reminders,
waitlist, recurring)."""

import outreach.recurring.admin
import outreach.reminders.admin
import outreach.waitlist.admin  # noqa: F401
