"""django-q2 tasks for webhooks: ids in, one service call (STYLE.md §4)."""


def webhook_deliveries_send(delivery_ids: list[int]) -> dict:
    from api.webhooks.sending import webhook_deliveries_send as run

    return run(delivery_ids)
