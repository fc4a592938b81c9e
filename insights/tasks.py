"""django-q2 tasks: ids in, one service call, nothing else (STYLE.md §4)."""


def day_counts_compact() -> int:
    from insights.day_counts import compact

    return compact()
