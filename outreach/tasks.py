"""django-q2 tasks: ids in, one service call, nothing else (STYLE.md §4)."""


def due_run() -> dict:
    from outreach.scheduler import due_run as run

    return run()
