"""Sending webhooks: sign, POST, record; retry with back-off for a day, then
flag the subscription.

A delivery is attempted by ``webhook_deliveries_send`` (a django-q2 task
queued after the commit that made it), and again, when an attempt failed, by
its finder (``webhook_deliveries_due``, registered with
``core.scheduler.register_due``, its own schedule): nothing sleeps in a task.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
from urllib.parse import urlsplit, urlunsplit

import httpx

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import WebhookDelivery, WebhookSubscription
from api.webhooks.url_safety import Target, UnsafeUrlError, url_check
from core import backoff

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# After the n-th failed attempt, wait FIRST_RETRY × 2^(n-1), at most MAX_RETRY…
FIRST_RETRY = datetime.timedelta(minutes=1)
MAX_RETRY = datetime.timedelta(hours=1)
# …for as long as the next attempt falls within a day of the delivery's making.
RETRY_WINDOW = datetime.timedelta(hours=24)
# A worker's hold on a delivery it is sending; longer than one attempt can take.
LEASE = datetime.timedelta(minutes=2)
# Deliveries per task: a task may take TIMEOUT per delivery and must end well
# within Q_CLUSTER["timeout"].
BATCH = 5
USER_AGENT = "Liaison-Webhooks/1"


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return backoff.doubling(attempts, first=FIRST_RETRY, ceiling=MAX_RETRY)


def webhook_deliveries_enqueue(ids: list[int]) -> None:
    """Queue the send task after commit, in batches, with ids only."""
    if not ids:
        return
    from django_q.tasks import async_task

    def enqueue() -> None:
        for start in range(0, len(ids), BATCH):
            async_task(
                "api.webhooks.tasks.webhook_deliveries_send", ids[start : start + BATCH]
            )

    transaction.on_commit(enqueue)


def webhook_deliveries_due(now: datetime.datetime) -> int:
    """Queue the pending deliveries whose next attempt has come (retries, and
    any whose task was lost); returns how many. The scheduler's finder.

    A delivery made less than a minute ago is left to the task queued with
    it. Queuing one twice is harmless: each attempt claims it with a lease.
    """
    fresh = Q(attempts=0, next_attempt_at__gt=now - datetime.timedelta(minutes=1))
    ids = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .exclude(fresh)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:2_000]
    )
    with transaction.atomic():
        webhook_deliveries_enqueue(ids)
    return len(ids)


def _claim(pk: int, now: datetime.datetime) -> WebhookDelivery | None:
    claimed = (
        WebhookDelivery.objects.filter(
            pk=pk, status=Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(lease_expires_at=now + LEASE)
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("subscription").get(pk=pk)


def webhook_deliveries_send(delivery_ids: list[int]) -> dict[str, int]:
    """Attempt each due delivery once; returns counts by outcome.

    Safe to run twice or concurrently: a delivery not due, or held by
    another worker, is skipped. When a receiver cannot be reached (timeout,
    refused connection), its other deliveries in this batch wait with the
    same back-off rather than each wait for the same timeout.
    """
    counts: dict[str, int] = {}
    unreachable: dict[int, datetime.datetime] = {}
    for pk in delivery_ids:
        now = timezone.now()
        delivery = _claim(pk, now)
        if delivery is None:
            continue
        if delivery.subscription_id in unreachable:
            WebhookDelivery.objects.filter(pk=pk).update(
                lease_expires_at=None,
                next_attempt_at=unreachable[delivery.subscription_id],
            )
            outcome = "postponed"
        else:
            outcome = webhook_delivery_attempt(delivery=delivery, now=now)
            if outcome == "retry" and delivery.response_code is None:
                unreachable[delivery.subscription_id] = delivery.next_attempt_at
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _pinned_post(target: Target, body: bytes, headers: dict) -> httpx.Response:
    """POST to the checked addresses in turn, never resolving the host again:
    the Host header and TLS (SNI and certificate check) keep the host name."""
    parts = urlsplit(target.url)
    error: Exception = UnsafeUrlError("The host has no address.")
    addresses = target.addresses or (target.host,)
    for address in addresses:
        host = f"[{address}]" if ":" in address else address
        url = urlunsplit(
            (parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, "")
        )
        try:
            with httpx.Client(
                timeout=TIMEOUT, trust_env=False, follow_redirects=False
            ) as client:
                return client.post(
                    url,
                    content=body,
                    headers={**headers, "Host": parts.netloc},
                    extensions={"sni_hostname": target.host},
                )
        except httpx.ConnectError as exc:
            error = exc  # the next address, as a browser would
    raise error


def webhook_delivery_attempt(
    *, delivery: WebhookDelivery, now: datetime.datetime | None = None
) -> str:
    """Sign and POST one claimed delivery, record the outcome and return it:
    "delivered", "retry", "failed" (given up: the subscription is flagged) or
    "cancelled" (the subscription no longer receives).

    The URL is checked again here (SSRF, DNS rebinding) and the connection
    goes to the address checked. Nothing of the receiver's answer is kept
    but its status code.
    """
    now = now or timezone.now()
    subscription = delivery.subscription
    if not subscription.is_active:
        _delivery_settle(
            delivery, Status.FAILED, error="The subscription is not active."
        )
        return "cancelled"
    body = body_bytes(delivery.payload)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Liaison-Event": delivery.event,
        "Liaison-Delivery": str(delivery.public_id),
        "Liaison-Signature": signature_header(subscription.secret, timestamp, body),
    }
    code, error = None, ""
    try:
        response = _pinned_post(url_check(subscription.url), body, headers)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"The receiver answered {code}."
    except UnsafeUrlError as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = "Timed out."
    except httpx.HTTPError as exc:
        error = f"Could not connect ({type(exc).__name__})."
    attempts = delivery.attempts + 1
    common = {"attempts": attempts, "last_attempt_at": now, "response_code": code}
    if not error:
        _delivery_settle(
            delivery, Status.DELIVERED, delivered_at=now, error="", **common
        )
        return "delivered"
    logger.info("webhook delivery %s attempt %s: %s", delivery.pk, attempts, error)
    next_at = now + retry_delay(attempts)
    if next_at <= delivery.created_at + RETRY_WINDOW:
        _delivery_settle(
            delivery, Status.PENDING, next_attempt_at=next_at, error=error, **common
        )
        return "retry"
    _delivery_settle(delivery, Status.FAILED, error=error, **common)
    subscription_flag(
        subscription=subscription,
        reason=f"Undelivered for a day (delivery {delivery.public_id}): {error}",
        now=now,
    )
    return "failed"


def _delivery_settle(delivery: WebhookDelivery, status: str, **fields) -> None:
    """Record an attempt's outcome on the row and the instance: its status
    and fields, the lease released, and no next attempt unless pending."""
    fields |= {"status": status, "lease_expires_at": None}
    if status != Status.PENDING:
        fields["next_attempt_at"] = None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        updated_at=timezone.now(), **fields
    )
    for name, value in fields.items():
        setattr(delivery, name, value)


@transaction.atomic
def subscription_flag(
    *, subscription: WebhookSubscription, reason: str, now: datetime.datetime
) -> None:
    """Stop sending to a subscription that kept failing: inactive, flagged
    with ``reason`` (shown in admin and the API), its other pending
    deliveries failed. Reactivating it clears the flag."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        is_active=False, flagged_at=now, flagged_reason=reason[:300], updated_at=now
    )
    subscription.is_active, subscription.flagged_at = False, now
    subscription.flagged_reason = reason[:300]
    subscription.deliveries.filter(status=Status.PENDING).update(
        status=Status.FAILED,
        next_attempt_at=None,
        lease_expires_at=None,
        error="Not sent: the subscription was flagged.",
        updated_at=now,
    )
    logger.warning("webhook subscription %s flagged", subscription.pk)
