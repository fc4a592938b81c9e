"""A second SMS provider takes what the first could not, never twice."""

import pytest

from messaging.backends.sms.failover import SmsBackend
from tests.messaging.providers.fakes import SINCH_SMS, TWILIO_SMS, stall

pytestmark = pytest.mark.django_db


@pytest.fixture
def failover(httpserver):
    url = httpserver.url_for("").rstrip("/")

    def make(**primary_options):
        primary = TWILIO_SMS.config(url)
        primary["OPTIONS"] |= primary_options
        return SmsBackend(
            channel="sms", primary=primary, secondary=SINCH_SMS.config(url)
        )

    return make


def paths(httpserver):
    return [request.path for request, _ in httpserver.log]


def test_primary_503_goes_through_the_secondary(httpserver, failover, make_delivery):
    # given
    TWILIO_SMS.refuse(httpserver, 503, "503")
    SINCH_SMS.accept(httpserver)
    delivery = make_delivery()
    # when
    (result,) = failover().send_many([delivery])
    # then
    assert result.ok
    assert result.provider == "sinch"
    assert paths(httpserver) == [TWILIO_SMS.path, SINCH_SMS.path]


def test_primary_rejecting_the_address_is_not_tried_elsewhere(
    httpserver, failover, make_delivery
):
    TWILIO_SMS.refuse(httpserver, 400, "21211")
    SINCH_SMS.accept(httpserver)
    (result,) = failover().send_many([make_delivery()])
    assert result.error.permanent
    assert result.error.code == "21211"
    assert paths(httpserver) == [TWILIO_SMS.path]


def test_primary_that_may_have_accepted_is_not_tried_elsewhere(
    httpserver, failover, make_delivery
):
    wait = stall(httpserver, TWILIO_SMS, 1.5)
    SINCH_SMS.accept(httpserver)
    (result,) = failover(read_timeout=0.5).send_many([make_delivery()])
    wait()
    assert result.error.unknown
    assert result.provider == "twilio"
    assert paths(httpserver) == [TWILIO_SMS.path]


def test_primary_successes_stay_with_the_primary(httpserver, failover, make_delivery):
    TWILIO_SMS.accept(httpserver)
    SINCH_SMS.accept(httpserver)
    results = failover().send_many([make_delivery(), make_delivery(body="2")])
    assert [r.provider for r in results] == ["twilio", "twilio"]


def test_a_secondary_without_credentials_makes_the_channel_unavailable(
    failover, httpserver
):
    backend = SmsBackend(
        channel="sms",
        primary=TWILIO_SMS.config("http://x"),
        secondary={"BACKEND": SINCH_SMS.backend, "OPTIONS": {}},
    )
    available, why = backend.is_available()
    assert available is False
    assert why.startswith("secondary sinch: missing SINCH_SERVICE_PLAN_ID")


def test_reconcile_asks_both_providers_when_none_was_recorded(
    httpserver, failover, make_delivery
):
    # given: a worker died mid-send, so no provider was recorded
    delivery = make_delivery()
    httpserver.expect_request(TWILIO_SMS.path, method="GET").respond_with_json(
        {"messages": []}
    )
    httpserver.expect_request(SINCH_SMS.path, method="GET").respond_with_json(
        {"batches": [{"id": "01SINCH"}]}
    )
    # when
    found = failover().reconcile([delivery])
    # then
    assert found == {delivery.pk: "01SINCH"}


def test_reconcile_cannot_tell_when_one_provider_cannot(
    httpserver, failover, make_delivery
):
    delivery = make_delivery()
    httpserver.expect_request(TWILIO_SMS.path, method="GET").respond_with_data(
        "", status=500
    )
    httpserver.expect_request(SINCH_SMS.path, method="GET").respond_with_json(
        {"batches": []}
    )
    assert failover().reconcile([delivery]) == {}
