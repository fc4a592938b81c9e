"""django-q2 tasks: ids in, one service call, nothing else (STYLE.md §4)."""

import datetime


def campaign_plan(
    campaign_id: int, now: datetime.datetime, page_size: int | None = None
) -> int:
    """A planner beside the finder's: plans pages of the campaign until none
    is left or the tick's time is up."""
    import time

    from campaigns.planner import PAGE_SIZE, _tick_seconds, campaign_plan_due

    deadline = time.monotonic() + _tick_seconds()
    return campaign_plan_due(
        campaign_id=campaign_id,
        now=now,
        deadline=deadline,
        page_size=page_size or PAGE_SIZE,
    )
