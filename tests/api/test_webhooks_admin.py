"""Webhooks in admin: made with the secret shown once, scoped to the staff
member's organization, the delivery log with a replay action."""

import re

import pytest

from django.contrib.messages import get_messages
from django.test import override_settings

from api.models import WebhookDelivery, WebhookSubscription
from tests.api.webhooks_support import emit, subscribe
from tests.clinic.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, organization):
    member = StaffMemberFactory(organization=organization, role="admin")
    client.force_login(member.user)
    return member


def shown(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_admin_creates_a_subscription_and_shows_the_secret_once(
    client, staff, organization
):
    response = client.post(
        "/admin/api/webhooksubscription/add/",
        {
            "url": "https://93.184.216.34/hook",
            "events": ["consent.changed", "appointment.cancelled"],
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    assert subscription.organization == organization
    assert subscription.created_by == staff.user
    secret = re.search(r"whsec_\w+", shown(response)).group(0)
    assert secret == subscription.secret
    page = client.get(
        f"/admin/api/webhooksubscription/{subscription.pk}/change/"
    ).content.decode()
    assert secret not in page
    assert subscription.secret_hint in page


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_admin_refuses_a_private_url(client, staff):
    response = client.post(
        "/admin/api/webhooksubscription/add/",
        {"url": "https://169.254.169.254/", "events": ["consent.changed"]},
    )
    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_another_organizations_subscription_is_404(client, staff, other_organization):
    subscription, _ = subscribe(other_organization, "https://93.184.216.34/hook")
    delivery = emit(subscription)
    url = f"/admin/api/webhooksubscription/{subscription.pk}/change/"
    assert client.get(url).status_code == 404
    assert (
        client.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/").status_code
        == 404
    )
    listing = client.get("/admin/api/webhookdelivery/").content.decode()
    assert str(delivery.public_id) not in listing


def test_replay_action(
    client, staff, organization, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    delivery = emit(subscription)
    page = client.get(f"/admin/api/webhooksubscription/{subscription.pk}/change/")
    assert (
        "/admin/api/webhookdelivery/?subscription__id__exact=" in page.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/api/webhookdelivery/",
            {"action": "replay", "_selected_action": [delivery.pk]},
            follow=True,
        )
    assert "1 delivery(ies) replayed" in shown(response)
    replay = WebhookDelivery.objects.get(replay_of=delivery)
    assert replay.status == "delivered"
    assert len(httpserver.log) == 1


def test_reactivate_action_clears_the_flag(client, staff, organization):
    subscription, _ = subscribe(organization, "https://93.184.216.34/hook")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        is_active=False, flagged_at="2026-11-03T08:00:00Z", flagged_reason="500s"
    )
    page = client.get(f"/admin/api/webhooksubscription/{subscription.pk}/change/")
    assert "500s" in page.content.decode()
    client.post(
        "/admin/api/webhooksubscription/",
        {"action": "reactivate", "_selected_action": [subscription.pk]},
    )
    subscription.refresh_from_db()
    assert subscription.is_active
    assert subscription.flagged_at is None
