"""The one instant the suite pins its clock to."""

import datetime

WEEKDAY_NOON_PARIS = datetime.datetime(2026, 3, 10, 11, 0, tzinfo=datetime.UTC)
"""Tuesday 10 March 2026, 12:00 in Paris (11:00 UTC, winter time).

A working day that is no public holiday in France, inside every sending
window and outside every patient's quiet hours: a send planned for now goes
now, whatever the hour the suite runs at. Tests that move the clock
(``time_machine.travel``) start here, and derive other instants from it.
"""
