"""django-q2 tasks: ids in, one service call, nothing else (STYLE.md §4)."""

from core import scheduler


def finder_run(name: str) -> int:
    """One finder's tick (its schedule ``due: <name>``, core.scheduler)."""
    return scheduler.finder_run(name)


def due_run() -> dict:
    """Every finder once, in turn (tests and the demo; no schedule calls it)."""
    return scheduler.due_run()
