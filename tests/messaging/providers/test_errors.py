"""Provider answers map to retry, give up, or reconcile — for every provider."""

import pytest

from tests.messaging.providers.fakes import (
    PROVIDERS,
    TWILIO_SMS,
    logged_text,
    stall,
    unused_port_url,
)

pytestmark = pytest.mark.django_db

by_name = pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)


def send_one(backend, delivery):
    (result,) = backend.send_many([delivery])
    return result


@by_name
def test_success_records_the_provider_id(
    provider, httpserver, backend_for, make_delivery
):
    # given
    provider.accept(httpserver)
    delivery = make_delivery(channel=backend_for(provider).channel)
    # when
    result = send_one(backend_for(provider), delivery)
    # then
    assert result.ok
    assert result.provider == provider.name.split("-")[0]
    assert result.provider_id


@by_name
def test_429_is_transient_and_honours_retry_after(
    provider, httpserver, backend_for, make_delivery
):
    provider.refuse(httpserver, 429, "20429", headers={"Retry-After": "17"})
    backend = backend_for(provider)
    error = send_one(backend, make_delivery(channel=backend.channel)).error
    assert (error.permanent, error.unknown, error.retry_after) == (False, False, 17.0)


@by_name
def test_500_is_transient(provider, httpserver, backend_for, make_delivery):
    provider.refuse(httpserver, 500, "500")
    backend = backend_for(provider)
    error = send_one(backend, make_delivery(channel=backend.channel)).error
    assert (error.permanent, error.unknown) == (False, False)


@by_name
def test_rejected_address_is_permanent_with_the_providers_code(
    provider, httpserver, backend_for, make_delivery
):
    provider.refuse(httpserver, 400, provider.invalid_code)
    backend = backend_for(provider)
    error = send_one(
        backend, make_delivery(channel=backend.channel, address="+1")
    ).error
    assert error.permanent is True
    assert error.code == provider.invalid_code


@by_name
def test_a_stall_past_the_read_timeout_is_unknown_not_failed(
    provider, httpserver, backend_for, make_delivery
):
    # given: the provider answers after 1.5 s, we wait 0.5 s
    wait = stall(httpserver, provider, 1.5)
    backend = backend_for(provider, read_timeout=0.5)
    # when
    error = send_one(backend, make_delivery(channel=backend.channel)).error
    wait()
    # then
    assert error.unknown is True
    assert error.permanent is False


@by_name
def test_connection_refused_is_transient(provider, backend_for, make_delivery):
    backend = backend_for(provider, base_url=unused_port_url())
    error = send_one(backend, make_delivery(channel=backend.channel)).error
    assert (error.permanent, error.unknown, error.code) == (
        False,
        False,
        "connect_error",
    )


@by_name
def test_logs_name_ids_and_statuses_never_numbers_or_texts(
    provider, httpserver, backend_for, make_delivery, log_records
):
    provider.refuse(httpserver, 400, provider.invalid_code)
    backend = backend_for(provider)
    delivery = make_delivery(channel=backend.channel, body="Résultat très privé")
    send_one(backend, delivery)
    text = logged_text(log_records)
    assert f"delivery {delivery.pk}" in text
    assert "400" in text
    assert "+33612345678" not in text
    assert "privé" not in text


@by_name
def test_missing_credentials_make_the_backend_unavailable_without_calling(
    provider, httpserver, backend_for, make_delivery
):
    secret = {
        "twilio-sms": "auth_token",
        "twilio-voice": "auth_token",
        "sinch-sms": "api_token",
        "sinch-voice": "application_secret",
    }[provider.name]
    backend = backend_for(provider, **{secret: ""})
    available, why = backend.is_available()
    error = send_one(backend, make_delivery(channel=backend.channel)).error
    assert available is False
    assert why.startswith("missing ")
    assert error.code == "not_configured"
    assert httpserver.log == []


@by_name
def test_after_a_429_the_rest_of_the_batch_waits_without_calling(
    provider, httpserver, backend_for, make_delivery
):
    # given
    provider.refuse(httpserver, 429, "20429", headers={"Retry-After": "30"})
    backend = backend_for(provider)
    deliveries = [
        make_delivery(channel=backend.channel, body=f"n{n}") for n in range(3)
    ]
    # when
    results = backend.send_many(deliveries)
    # then
    assert len(httpserver.log) == 1
    assert [r.error.code for r in results[1:]] == ["not_attempted", "not_attempted"]
    assert all(r.error.retry_after == 30.0 for r in results)
    assert not any(r.error.permanent or r.error.unknown for r in results)


def test_a_rejected_address_does_not_hold_up_the_rest(
    httpserver, backend_for, make_delivery
):
    httpserver.expect_oneshot_request(TWILIO_SMS.path).respond_with_json(
        TWILIO_SMS.error("21211"), status=400
    )
    TWILIO_SMS.accept(httpserver)
    results = backend_for(TWILIO_SMS).send_many([make_delivery(), make_delivery()])
    assert results[0].error.permanent
    assert results[1].ok


@by_name
def test_concurrent_sends_keep_one_result_per_delivery_in_order(
    provider, httpserver, backend_for, make_delivery
):
    # given: four requests in flight at once
    provider.accept(httpserver)
    backend = backend_for(provider, concurrency=4)
    deliveries = [
        make_delivery(channel=backend.channel, body=f"n{n}") for n in range(9)
    ]
    # when
    results = backend.send_many(deliveries)
    # then
    assert [r.delivery_id for r in results] == [d.pk for d in deliveries]
    assert all(r.ok for r in results)
    assert len({r.provider_id for r in results}) == 9
    assert len(httpserver.log) == 9


@by_name
def test_concurrent_sends_stop_starting_after_a_429(
    provider, httpserver, backend_for, make_delivery
):
    provider.refuse(httpserver, 429, "20429", headers={"Retry-After": "30"})
    backend = backend_for(provider, concurrency=2)
    deliveries = [
        make_delivery(channel=backend.channel, body=f"n{n}") for n in range(12)
    ]
    results = backend.send_many(deliveries)
    # At most the requests already in flight reach the provider.
    assert len(httpserver.log) <= 2
    assert sum(r.error.code == "not_attempted" for r in results) >= 10


@pytest.mark.parametrize(
    ("provider", "limit"),
    [
        (p, 1600 if p.name.startswith("twilio") else 2000)
        for p in PROVIDERS
        if "sms" in p.backend
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_an_sms_over_the_providers_limit_is_refused_without_calling(
    provider, limit, httpserver, backend_for, make_delivery
):
    provider.accept(httpserver)
    backend = backend_for(provider)
    result = send_one(backend, make_delivery(channel="sms", body="x" * (limit + 1)))
    assert (result.error.permanent, result.error.code) == (True, "too_long")
    assert httpserver.log == []
    assert send_one(backend, make_delivery(channel="sms", body="x" * limit)).ok
