"""SSRF: webhooks go over https to public addresses only, checked when a
subscription is saved and again at every send (DNS may change)."""

import socket

import pytest

from django.core.exceptions import ValidationError
from django.test import override_settings

from api.models import WebhookDelivery
from api.webhooks import sending as webhooks_sending
from api.webhooks.services import webhook_subscription_update
from api.webhooks.url_safety import UnsafeUrlError, url_check
from tests.api.webhooks_support import emit, subscribe

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.216.34"

REFUSED = [
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.10/hook",
    "https://127.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://224.0.0.1/hook",
    "https://100.64.0.1/hook",
    "https://240.0.0.1/hook",
    "https://localhost/hook",
    "https://localhost:8443/hook",
]


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
@pytest.mark.parametrize("url", REFUSED)
def test_private_addresses_are_refused(url, organization):
    with pytest.raises(UnsafeUrlError, match="not a public address"):
        url_check(url)
    with pytest.raises(ValidationError) as refused:
        subscribe(organization, url)
    assert "url" in refused.value.message_dict


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"http://{PUBLIC}/hook", "must use https"),
        ("ftp://example.org/hook", "must use https"),
        (f"https://user:pw@{PUBLIC}/hook", "user name or password"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_other_refusals(url, why):
    with pytest.raises(UnsafeUrlError, match=why):
        url_check(url)


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_a_public_address_over_https_is_accepted():
    target = url_check(f"https://{PUBLIC}:8443/hook")
    assert target.addresses == (PUBLIC,)
    assert target.port == 8443


@pytest.fixture
def dns(monkeypatch):
    """Answers for made-up host names; the real resolver for the rest."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            address = (
                answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            )
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return answers


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_a_host_with_one_private_address_among_public_ones_is_refused(dns):
    dns["mixed.test"] = ["127.0.0.1"]
    with pytest.raises(UnsafeUrlError):
        url_check("https://mixed.test/hook")


def test_the_address_is_checked_again_at_send_time(httpserver, organization, dns):
    """DNS rebinding: public when subscribed, loopback when sent → not sent."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    dns["rebind.test"] = [PUBLIC, "127.0.0.1"]
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=False):
        subscription, _ = subscribe(
            organization, f"https://rebind.test:{httpserver.port}/hook"
        )
        delivery = emit(subscription)
        webhooks_sending.webhook_deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert "127.0.0.1, which is not a public address" in delivery.error
    assert httpserver.log == []


def test_a_subscription_made_in_development_is_not_sent_in_production(
    httpserver, organization
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    delivery = emit(subscription)
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=False):
        webhooks_sending.webhook_deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.error == "The URL must use https."
    assert httpserver.log == []
    assert WebhookDelivery.objects.get().attempts == 1


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_changing_the_url_is_checked_too(organization):
    subscription, _ = subscribe(organization, f"https://{PUBLIC}/hook")
    with pytest.raises(ValidationError):
        webhook_subscription_update(
            subscription=subscription, url="https://169.254.169.254/"
        )
