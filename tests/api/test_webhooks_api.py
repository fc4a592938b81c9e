"""``/api/v1/webhooks/``: subscriptions (secret shown once), their delivery
log, replay; scope webhooks:manage; another organization's answer 404."""

import pytest

from django.test import override_settings

from api.models import WebhookDelivery, WebhookSubscription
from api.scopes import Scope
from tests.api.api_support import assert_problem
from tests.api.webhooks_support import emit, received, subscribe

pytestmark = pytest.mark.django_db
HOOKS = "/api/v1/webhooks/"


@pytest.fixture
def hook_url(httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    return httpserver.url_for("/hook")


def test_create_shows_the_secret_once(api, hook_url, organization):
    # when
    response = api.post_json(
        HOOKS, {"url": hook_url, "events": ["consent.changed", "delivery.updated"]}
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    subscription = WebhookSubscription.objects.get()
    assert body["id"] == str(subscription.public_id)
    assert body["secret"] == subscription.secret
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["consent.changed", "delivery.updated"]
    assert body["active"] is True
    assert subscription.organization == organization
    assert subscription.created_by_key is not None
    # never again
    read = api.get(f"{HOOKS}{body['id']}/").json()
    assert "secret" not in read
    assert body["secret"] not in str(api.get(HOOKS).content)
    assert read["secret_hint"] == "…" + body["secret"][-4:]


def test_unknown_events_and_empty_lists_are_400(api, hook_url):
    body = assert_problem(api.post_json(HOOKS, {"url": hook_url, "events": []}), 400)
    assert body["errors"][0]["pointer"] == "#/events"
    body = assert_problem(
        api.post_json(HOOKS, {"url": hook_url, "events": ["patient.died"]}), 400
    )
    assert body["errors"][0]["pointer"].startswith("#/events")


def test_update_events_url_and_active(api, organization, hook_url):
    subscription, _ = subscribe(organization, hook_url, events=["consent.changed"])
    url = f"{HOOKS}{subscription.public_id}/"
    response = api.patch_json(
        url, {"events": ["message.received"], "active": False, "description": "CRM"}
    )
    assert response.status_code == 200, response.content
    subscription.refresh_from_db()
    assert subscription.events == ["message.received"]
    assert not subscription.is_active
    assert subscription.description == "CRM"


def test_reactivating_clears_the_flag(api, organization, hook_url):
    subscription, _ = subscribe(organization, hook_url)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        is_active=False,
        flagged_at="2026-11-03T08:00:00Z",
        flagged_reason="Undelivered for a day",
    )
    url = f"{HOOKS}{subscription.public_id}/"
    assert api.get(url).json()["flagged_reason"] == "Undelivered for a day"
    body = api.patch_json(url, {"active": True}).json()
    assert body["active"] is True
    assert body["flagged_at"] is None
    assert body["flagged_reason"] == ""


def test_delete(api, organization, hook_url):
    subscription, _ = subscribe(organization, hook_url)
    assert api.delete(f"{HOOKS}{subscription.public_id}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_rotate_secret(api, organization, hook_url):
    subscription, old = subscribe(organization, hook_url)
    response = api.post(f"{HOOKS}{subscription.public_id}/rotate-secret/")
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert response.json()["secret"] == subscription.secret != old


def test_delivery_log_and_replay(
    api, organization, httpserver, hook_url, django_capture_on_commit_callbacks
):
    subscription, secret = subscribe(organization, hook_url)
    delivery = emit(subscription)
    log = api.get(f"{HOOKS}{subscription.public_id}/deliveries/")
    assert log.status_code == 200
    [row] = log.json()["results"]
    assert row["id"] == str(delivery.public_id)
    assert row["status"] == "pending"
    assert row["payload"]["type"] == "consent.changed"
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{HOOKS}{subscription.public_id}/deliveries/{delivery.public_id}/replay/"
        )
    # then: a new delivery of the same event, sent at once (tasks run in-process)
    assert response.status_code == 201, response.content
    replay = WebhookDelivery.objects.get(public_id=response.json()["id"])
    assert replay.replay_of == delivery
    assert replay.status == "delivered"
    [body] = received(httpserver, secret)
    assert body["id"] == delivery.payload["id"]
    assert httpserver.log[0][0].headers["Liaison-Delivery"] == str(replay.public_id)


def test_replay_of_an_inactive_subscription_is_409(api, organization, hook_url):
    subscription, _ = subscribe(organization, hook_url)
    delivery = emit(subscription)
    subscription.is_active = False
    subscription.save()
    response = api.post(
        f"{HOOKS}{subscription.public_id}/deliveries/{delivery.public_id}/replay/"
    )
    assert_problem(response, 409)


def test_another_organizations_subscription_is_404(api, other_organization, hook_url):
    subscription, _ = subscribe(other_organization, hook_url)
    delivery = emit(subscription)
    url = f"{HOOKS}{subscription.public_id}/"
    assert_problem(api.get(url), 404)
    assert_problem(api.patch_json(url, {"active": False}), 404)
    assert_problem(api.delete(url), 404)
    assert_problem(api.get(f"{url}deliveries/"), 404)
    assert_problem(api.post(f"{url}deliveries/{delivery.public_id}/replay/"), 404)
    assert api.get(HOOKS).json()["results"] == []
    assert WebhookSubscription.objects.get().is_active


def test_a_delivery_of_another_subscription_is_404(api, organization, hook_url):
    mine, _ = subscribe(organization, hook_url)
    other, _ = subscribe(organization, hook_url)
    delivery = emit(other)
    response = api.post(
        f"{HOOKS}{mine.public_id}/deliveries/{delivery.public_id}/replay/"
    )
    assert_problem(response, 404)


def test_the_scope_is_webhooks_manage(make_client, hook_url):
    client, _ = make_client(scopes=[Scope.PATIENTS_READ, Scope.MESSAGES_READ])
    assert_problem(client.get(HOOKS), 403)
    assert_problem(
        client.post_json(HOOKS, {"url": hook_url, "events": ["consent.changed"]}), 403
    )
    manager, _ = make_client(scopes=[Scope.WEBHOOKS_MANAGE])
    assert manager.get(HOOKS).status_code == 200


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_a_private_url_is_refused_with_a_field_error(api):
    response = api.post_json(
        HOOKS, {"url": "https://10.0.0.1/hook", "events": ["consent.changed"]}
    )
    body = assert_problem(response, 400)
    assert body["errors"] == [
        {
            "pointer": "#/url",
            "detail": "The host 10.0.0.1 resolves to 10.0.0.1, which is not a "
            "public address.",
        }
    ]
    assert not WebhookSubscription.objects.exists()
