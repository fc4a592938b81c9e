"""django-q2 tasks: ids in, one service call, nothing else (STYLE.md §4)."""


def deliveries_process(delivery_ids: list[int]) -> dict:
    from messaging.services import deliveries_process as run

    return run(delivery_ids=delivery_ids)


def deliveries_requeue_due() -> int:
    from messaging.services import deliveries_requeue_due as run

    return run()


def messages_escalate_due() -> int:
    from messaging.services import messages_escalate_due as run

    return run()


def message_secrets_expire() -> int:
    from messaging.services.redaction import message_secrets_expire as run

    return run()
