"""Reminder offsets as staff write them."""

import datetime

import pytest

from django.core.exceptions import ValidationError

from outreach.reminders.offsets import offsets_parse

PARIS = "Europe/Paris"


def test_durations_and_clock_times_are_read_in_order():
    offsets = offsets_parse("7j, 48h, 30m, 1d@18:00")
    assert [o.key for o in offsets] == ["7d", "48h", "30m", "1d@18:00"]  # j: jours
    assert [o.minutes for o in offsets] == [7 * 1440, 48 * 60, 30, 0]
    assert offsets[3].clock == datetime.time(18, 0)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "at least one offset"),
        ("tomorrow", "tomorrow is not an offset"),
        ("0h", "between 1 minute"),
        ("1d@25:00", "a time from 00:00 to 23:59"),
        ("48h, 2d", "2d is given twice"),
        (",".join(f"{n}h" for n in range(1, 12)), "At most 10"),
    ],
)
def test_what_cannot_be_read_is_refused_clearly(text, error):
    with pytest.raises(ValidationError) as refused:
        offsets_parse(text)
    assert error in " ".join(refused.value.messages)


def test_a_clock_time_skipped_by_the_spring_jump_lands_after_it():
    """As consent's time rules: 02:30 on 29 March 2026 in Paris is 03:30."""
    [offset] = offsets_parse("0d@02:30")
    starts_at = datetime.datetime(2026, 3, 29, 10, 0, tzinfo=datetime.UTC)
    assert offset.due_at(starts_at, PARIS) == datetime.datetime(
        2026, 3, 29, 1, 30, tzinfo=datetime.UTC
    )


def test_a_clock_time_repeated_by_the_autumn_change_is_its_first_occurrence():
    [offset] = offsets_parse("0d@02:30")
    starts_at = datetime.datetime(2026, 10, 25, 10, 0, tzinfo=datetime.UTC)
    assert offset.due_at(starts_at, PARIS) == datetime.datetime(
        2026,
        10,
        25,
        0,
        30,
        tzinfo=datetime.UTC,  # 02:30 CEST, before the change
    )
