"""Webhook subscriptions and events: make, change and replay; turn a domain
change into one delivery per subscribed URL.

Deliveries are written in the transaction of the change that caused them (the
outbox: a rolled-back change leaves none, a crash after commit loses none),
and their send task is queued after commit (``api.webhooks.sending``).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from api.problems import Conflict
from api.webhooks.sending import webhook_deliveries_enqueue
from api.webhooks.url_safety import UnsafeUrlError, url_check
from clinic.models import Organization

# "whsec_" tells a leaked secret apart in a secret scanner's eyes.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class ReplayRefused(Conflict):
    default_detail = "Reactivate the subscription before replaying its deliveries."


def _validate(subscription: WebhookSubscription) -> None:
    errors: dict[str, list[str]] = {}
    events = subscription.events
    if not isinstance(events, list) or not events:
        errors["events"] = ["Give at least one event."]
    else:
        unknown = sorted({e for e in events if e not in WebhookEvent.values}, key=str)
        if unknown:
            errors["events"] = [
                f"Unknown event(s): {', '.join(map(str, unknown))}. "
                f"Known: {', '.join(WebhookEvent.values)}."
            ]
        subscription.events = sorted(set(events) - set(unknown))
    try:
        subscription.full_clean(exclude=["events", "secret"])
    except ValidationError as exc:
        errors |= exc.message_dict
    if "url" not in errors:
        try:
            # Resolved now, so a private host is refused at once; checked
            # again at every send, as DNS may change.
            url_check(subscription.url, resolve=False)
        except UnsafeUrlError as exc:
            errors["url"] = [str(exc)]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def webhook_subscription_create(
    *,
    organization: Organization,
    url: str,
    events: list[str],
    description: str = "",
    is_active: bool = True,
    created_by=None,
    created_by_key=None,
) -> tuple[WebhookSubscription, str]:
    """Make a subscription; return it and its signing secret.

    Raises ValidationError for an unknown event or a URL that may not
    receive webhooks (not https, or not a public address: see
    ``api.webhooks.url_safety``). The secret is kept
    encrypted (it signs every delivery) and callers show it only this once.
    Raises CredentialsKeyMissing when CREDENTIALS_KEY is not set.
    """
    secret = SECRET_PREFIX + secrets.token_hex(24)
    subscription = WebhookSubscription(
        organization=organization,
        url=url,
        events=events,
        description=description,
        is_active=is_active,
        created_by=created_by,
        created_by_key=created_by_key,
    )
    subscription.secret_set(secret)
    _validate(subscription)
    subscription.save()
    return subscription, secret


@transaction.atomic
def webhook_subscription_update(
    *, subscription: WebhookSubscription, **fields
) -> WebhookSubscription:
    """Change ``url``, ``events``, ``description`` or ``is_active``.

    Reactivating a flagged subscription clears its flag. Raises
    ValidationError as ``webhook_subscription_create`` does.
    """
    allowed = {"url", "events", "description", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Cannot change {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(subscription, name, value)
    if subscription.is_active:
        subscription.flagged_at, subscription.flagged_reason = None, ""
    _validate(subscription)
    subscription.save()
    return subscription


@transaction.atomic
def webhook_subscription_rotate_secret(
    *, subscription: WebhookSubscription
) -> tuple[WebhookSubscription, str]:
    """Give the subscription a new secret (the old one stops at once); return it."""
    secret = SECRET_PREFIX + secrets.token_hex(24)
    subscription.secret_set(secret)
    subscription.save(update_fields=["secret_encrypted", "secret_last4", "updated_at"])
    return subscription, secret


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again, now, as a new delivery (a new
    ``Liaison-Delivery``, the same event ``id`` in the body) with its own day
    of retries; return it. Raises ReplayRefused (409) when the subscription
    is not active."""
    subscription = delivery.subscription
    if not subscription.is_active:
        raise ReplayRefused()
    now = timezone.now()
    replay = WebhookDelivery.objects.create(
        subscription=subscription,
        event=delivery.event,
        payload=delivery.payload,
        next_attempt_at=now,
        replay_of=delivery,
        created_at=now,
    )
    webhook_deliveries_enqueue([replay.pk])
    return replay


def webhook_subscribers(
    event: str, organization_ids: Iterable[int]
) -> dict[int, list[WebhookSubscription]]:
    """Organization id → its receiving subscriptions to ``event``, in one
    query whatever the number of organizations; empty when nobody listens,
    and then a receiver builds no payload at all."""
    found: dict[int, list[WebhookSubscription]] = {}
    for subscription in (
        WebhookSubscription.objects.receiving()
        .filter(organization_id__in=set(organization_ids))
        .only("pk", "organization_id", "events")
    ):
        if event in subscription.events:
            found.setdefault(subscription.organization_id, []).append(subscription)
    return found


def webhooks_emit(
    event: str,
    items: Iterable[tuple[int, dict]],
    *,
    subscribers: dict[int, list[WebhookSubscription]],
    at=None,
) -> list[WebhookDelivery]:
    """Write one delivery per (item, subscriber of the item's organization)
    and queue their sending after commit; return them.

    ``items`` are (organization id, data) pairs; data carries ids, statuses
    and reasons only. ``subscribers`` comes from ``webhook_subscribers``.
    """
    at = at or timezone.now()
    deliveries = []
    for organization_id, data in items:
        body = {
            "id": str(uuid.uuid4()),
            "type": event,
            "created_at": at.isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        deliveries += [
            WebhookDelivery(
                subscription=subscription,
                event=event,
                payload=body,
                next_attempt_at=at,
                created_at=at,
            )
            for subscription in subscribers.get(organization_id, [])
        ]
    if not deliveries:
        return []
    created = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created if d.pk is not None]
    if len(ids) < len(created):  # a database that returns no ids on bulk insert
        ids = list(
            WebhookDelivery.objects.filter(
                public_id__in=[d.public_id for d in created]
            ).values_list("pk", flat=True)
        )
    webhook_deliveries_enqueue(ids)
    return created
