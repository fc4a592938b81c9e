"""What the webhook tests share: a subscription to a local receiver
(pytest-httpserver, a real HTTP server) and the deliveries it got."""

import json

from api.models import WebhookEvent
from api.webhooks.services import webhook_subscription_create, webhooks_emit
from api.webhooks.verify_example import verify_liaison_signature


def subscribe(organization, url, events=None, **fields):
    """A subscription (and its secret) to ``events`` (all by default)."""
    return webhook_subscription_create(
        organization=organization,
        url=url,
        events=list(events or WebhookEvent.values),
        **fields,
    )


def signed_at(request) -> int:
    return int(request.headers["Liaison-Signature"].split(",")[0].removeprefix("t="))


def received(httpserver, secret=None, *, checked_when_sent=False):
    """Bodies the receiver got, after checking each one's signature with the
    documented snippet when ``secret`` is given (now, or with
    ``checked_when_sent`` as the receiver did when it came, for requests
    made at earlier travelled times)."""
    bodies = []
    for request, _response in httpserver.log:
        body = request.get_data()
        if secret is not None:
            now = signed_at(request) if checked_when_sent else None
            assert verify_liaison_signature(
                secret, request.headers["Liaison-Signature"], body, now=now
            ), request.headers
        bodies.append(json.loads(body))
    return bodies


def emit(subscription, count=1):
    """consent.changed events for the subscription's organization, straight
    to its outbox (no domain change): the first delivery, or all of them
    with ``count``."""
    deliveries = webhooks_emit(
        "consent.changed",
        [(subscription.organization_id, {"consent": "c", "granted": True})] * count,
        subscribers={subscription.organization_id: [subscription]},
    )
    return deliveries if count > 1 else deliveries[0]
