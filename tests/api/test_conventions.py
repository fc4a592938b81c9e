"""The conventions every endpoint shares: bearer keys, scopes, problem+json
errors, rate limits, idempotency, ETags and the access audit."""

import json
import uuid

import pytest

from django.test import override_settings

from api.keys import api_key_revoke
from api.models import IdempotencyRecord
from api.scopes import Scope
from clinic.models import AccessAudit, Patient
from tests.api.api_support import PATIENTS, assert_problem, new_patient
from tests.api.conftest import ApiClient
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_no_key_is_401_problem_with_challenge():
    response = ApiClient().get(PATIENTS)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_malformed_and_revoked_keys_are_401(make_client):
    assert_problem(ApiClient("lsn_not-a-key").get(PATIENTS), 401)
    assert_problem(ApiClient(HTTP_AUTHORIZATION="Token abc").get(PATIENTS), 401)
    client, key = make_client()
    assert client.get(PATIENTS).status_code == 200
    api_key_revoke(key=key)
    assert_problem(client.get(PATIENTS), 401)


def test_missing_scope_is_403_naming_the_scope(make_client):
    client, _ = make_client(scopes=[Scope.MESSAGES_READ])
    body = assert_problem(client.get(PATIENTS), 403)
    assert "patients:read" in body["detail"]
    reader, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert reader.get(PATIENTS).status_code == 200
    assert_problem(reader.post_json(PATIENTS, new_patient()), 403)


def test_last_used_is_noted(make_client):
    client, key = make_client()
    assert key.last_used_at is None
    client.get(PATIENTS)
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_rate_limit_answers_429_with_retry_after(make_client):
    client, _ = make_client(rate_per_minute=3)
    for _ in range(3):
        assert client.get(PATIENTS).status_code == 200
    response = client.get(PATIENTS)
    assert_problem(response, 429)
    assert int(response["Retry-After"]) > 0
    # Another key has its own budget.
    other, _ = make_client(rate_per_minute=3)
    assert other.get(PATIENTS).status_code == 200


def test_field_errors_point_at_fields(api):
    response = api.post_json(PATIENTS, new_patient(birth_date="yesterday", email="no"))
    body = assert_problem(response, 400)
    pointers = {error["pointer"] for error in body["errors"]}
    assert {"#/birth_date", "#/email"} <= pointers
    assert not Patient.objects.exists()


def test_malformed_json_is_400_problem(api):
    response = api.post(PATIENTS, "{nope", content_type="application/json")
    assert_problem(response, 400)


def test_domain_validation_becomes_problem(api, organization):
    response = api.post_json(PATIENTS, new_patient(birth_date="2999-01-01"))
    body = assert_problem(response, 400)
    assert "birth_date" in json.dumps(body)


def test_a_taken_identifier_is_a_conflict(api, organization):
    PatientFactory(organization=organization, identifier="EHR-1")
    body = assert_problem(api.post_json(PATIENTS, new_patient()), 409)
    assert "identifier" in json.dumps(body)


def test_unknown_api_url_is_404_problem(api):
    assert_problem(api.get("/api/v1/nothing-here/"), 404)
    assert_problem(api.get(f"{PATIENTS}{uuid.uuid4()}/"), 404)


def test_other_organizations_patient_is_404(api, other_organization):
    stranger = PatientFactory(organization=other_organization)
    assert_problem(api.get(f"{PATIENTS}{stranger.public_id}/"), 404)
    listed = api.get(PATIENTS).json()["results"]
    assert stranger.identifier not in {row["identifier"] for row in listed}


@override_settings(DEBUG=False)
def test_server_error_is_problem_not_html(api, monkeypatch):
    from api.views import patients as views_patients

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views_patients.PatientViewSet, "get_queryset", broken)
    api.raise_request_exception = False
    body = assert_problem(api.get(PATIENTS), 500)
    assert "boom" not in json.dumps(body)


class TestIdempotency:
    def test_replay_returns_first_answer_without_second_write(self, api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "abc-1"}
        first = api.post_json(PATIENTS, new_patient(), **headers)
        again = api.post_json(PATIENTS, new_patient(), **headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Patient.objects.count() == 1

    def test_same_key_other_body_is_422(self, api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "abc-2"}
        api.post_json(PATIENTS, new_patient(), **headers)
        other = api.post_json(PATIENTS, new_patient("EHR-2"), **headers)
        assert_problem(other, 422)
        assert Patient.objects.count() == 1

    def test_keys_are_per_api_key(self, make_client):
        first, _ = make_client()
        second, _ = make_client()
        headers = {"HTTP_IDEMPOTENCY_KEY": "shared"}
        assert first.post_json(PATIENTS, new_patient("A"), **headers).status_code == 201
        assert (
            second.post_json(PATIENTS, new_patient("B"), **headers).status_code == 201
        )

    def test_validation_errors_are_replayed_too(self, api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "bad"}
        first = api.post_json(PATIENTS, new_patient(birth_date="x"), **headers)
        again = api.post_json(PATIENTS, new_patient(birth_date="x"), **headers)
        assert first.status_code == again.status_code == 400
        assert again.json() == first.json()


def test_in_flight_key_of_same_api_key_is_409(make_client):
    client, key = make_client()
    from api.idempotency import request_hash

    body = json.dumps(new_patient()).encode()
    IdempotencyRecord.objects.create(
        api_key=key,
        key="busy",
        request_hash=request_hash("POST", PATIENTS, body),
    )
    response = client.post(
        PATIENTS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert_problem(response, 409)
    assert not Patient.objects.exists()


def test_etag_and_304(api, patient):
    url = f"{PATIENTS}{patient.public_id}/"
    first = api.get(url)
    assert first.status_code == 200
    assert first["ETag"]
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    patient.given_name = "Changed"
    patient.save()
    assert api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_reads_write_the_access_audit_with_the_keys_name(api, patient):
    api.get(f"{PATIENTS}{patient.public_id}/")
    api.get(PATIENTS)
    entries = AccessAudit.objects.filter(patient=patient)
    assert entries.count() == 2
    assert {entry.actor_label for entry in entries} == {"API key EHR sync"}
    assert all(entry.action == AccessAudit.Action.VIEW_RECORD for entry in entries)


def test_the_access_audit_takes_the_client_address_behind_a_proxy(
    api, patient, settings
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    api.get(
        f"{PATIENTS}{patient.public_id}/",
        REMOTE_ADDR="10.1.2.3",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert AccessAudit.objects.get(patient=patient).client_address == "203.0.113.9"
