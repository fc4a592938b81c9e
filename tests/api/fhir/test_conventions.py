"""What every FHIR endpoint shares: fhir+json, errors as OperationOutcome for
every status, the CapabilityStatement, and no place in the REST schema."""

import uuid

import pytest

from django.test import override_settings

from api.fhir.views import clinic as views_clinic
from api.scopes import Scope
from tests.api.conftest import ApiClient
from tests.api.fhir.bodies_support import new_appointment
from tests.api.fhir.conftest import BASE, FHIR_JSON, assert_outcome, fhir_ok, post_fhir
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db

METHODS = {"read": "get", "search-type": "get", "create": "post", "update": "put"}


def test_metadata_is_public_and_valid():
    # when
    response = ApiClient().get(BASE + "metadata")
    # then
    body = fhir_ok(response)
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    [rest] = body["rest"]
    found = {r["type"]: r for r in rest["resource"]}
    assert set(found) == {
        "Patient",
        "Appointment",
        "CommunicationRequest",
        "Communication",
        "Consent",
        "QuestionnaireResponse",
    }
    interactions = {t: {i["code"] for i in r["interaction"]} for t, r in found.items()}
    assert interactions["Appointment"] == {
        "read",
        "vread",
        "search-type",
        "create",
        "update",
    }
    assert interactions["CommunicationRequest"] == {"read", "vread", "create"}
    params = {p["name"] for p in found["Patient"]["searchParam"]}
    assert params == {"identifier", "family", "given", "birthdate", "_lastUpdated"}


def test_metadata_lists_exactly_what_answers(api):
    """Each listed interaction is served, each unlisted one is refused (405)."""
    rest = ApiClient().get(BASE + "metadata").json()["rest"][0]
    some_id = uuid.uuid4()
    for resource in rest["resource"]:
        listed = {i["code"] for i in resource["interaction"]}
        for interaction, method in METHODS.items():
            path = BASE + resource["type"]
            if interaction in ("read", "update"):
                path += f"/{some_id}"
            response = (
                getattr(api, method)(path, {}, content_type=FHIR_JSON)
                if (method != "get")
                else api.get(path)
            )
            if interaction in listed:
                assert response.status_code != 405, (resource["type"], interaction)
            else:
                assert_outcome(response, 405, "not-supported")
        for param in resource.get("searchParam", []):
            # A listed parameter is understood (a bad value is 400, never "unknown").
            answer = api.get(BASE + resource["type"], {param["name"]: "x"})
            assert "Unknown search parameter" not in answer.content.decode()


def test_fhir_is_not_in_the_rest_schema(api):
    schema = api.get("/api/schema/?format=json").json()
    assert not [path for path in schema["paths"] if "fhir" in path]


def test_json_is_accepted_too(api):
    response = api.get(BASE + "Patient", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["resourceType"] == "Bundle"


def test_no_key_is_401_outcome():
    response = ApiClient().get(BASE + "Patient")
    assert_outcome(response, 401, "login")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_outcome(ApiClient("lsn_unknown").get(BASE + "Patient"), 401, "login")


def test_missing_scope_is_403_outcome(make_client, patient):
    client, _ = make_client(scopes=[Scope.MESSAGES_READ])
    issue = assert_outcome(client.get(BASE + "Patient"), 403, "forbidden")
    assert "patients:read" in issue["diagnostics"]
    assert_outcome(client.get(f"{BASE}Patient/{patient.public_id}"), 403, "forbidden")


def test_other_organization_and_unknown_ids_are_404_outcome(api, other_organization):
    stranger = PatientFactory(organization=other_organization)
    assert_outcome(api.get(f"{BASE}Patient/{stranger.public_id}"), 404, "not-found")
    assert_outcome(api.get(f"{BASE}Patient/{uuid.uuid4()}"), 404, "not-found")
    assert_outcome(api.get(f"{BASE}Patient/not-a-uuid"), 404, "not-found")
    assert_outcome(api.get(f"{BASE}Observation"), 404, "not-found")


def test_bad_search_parameter_is_400_outcome(api):
    issue = assert_outcome(
        api.get(BASE + "Patient", {"colour": "blue"}), 400, "not-supported"
    )
    assert issue["expression"] == ["colour"]
    assert_outcome(
        api.get(BASE + "Patient", {"family:below": "x"}), 400, "not-supported"
    )
    assert_outcome(
        api.get(BASE + "Patient", {"birthdate": "yesterday"}), 400, "invalid"
    )
    assert_outcome(api.get(BASE + "Patient", {"_count": "-1"}), 400, "invalid")
    assert_outcome(api.get(BASE + "Patient", {"cursor": "junk"}), 400, "invalid")
    assert_outcome(api.get(BASE + "Patient", {"_format": "xml"}), 400, "invalid")
    assert api.get(BASE + "Patient", {"_format": "json"}).status_code == 200


def test_unreadable_body_and_media_types_are_outcomes(api):
    assert_outcome(
        api.post(BASE + "Appointment", "{not json", content_type=FHIR_JSON),
        400,
        "invalid",
    )
    assert_outcome(
        api.post(BASE + "Appointment", "<xml/>", content_type="application/fhir+xml"),
        415,
        "not-supported",
    )
    assert_outcome(
        api.get(BASE + "Patient", HTTP_ACCEPT="application/fhir+xml"),
        406,
        "not-supported",
    )


def test_rate_limit_is_429_outcome(make_client):
    client, _ = make_client(rate_per_minute=1)
    assert client.get(BASE + "Patient").status_code == 200
    response = client.get(BASE + "Patient")
    assert_outcome(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_idempotency_key_reused_for_another_body_is_422_outcome(api, patient, site):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    body = new_appointment(patient)
    first = post_fhir(api, BASE + "Appointment", body, **headers)
    assert first.status_code == 201
    again = post_fhir(api, BASE + "Appointment", body, **headers)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = {**body, "appointmentType": {"text": "vaccination"}}
    assert_outcome(
        post_fhir(api, BASE + "Appointment", other, **headers), 422, "business-rule"
    )


@override_settings(DEBUG=False)
def test_server_error_is_500_outcome(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views_clinic.PatientMixin, "queryset", broken)
    api.raise_request_exception = False
    issue = assert_outcome(api.get(BASE + "Patient"), 500, "exception")
    assert "boom" not in issue["diagnostics"]


def test_reads_answer_304_when_unchanged(api, patient):
    """Searches carry no random id or timestamp, so their ETag holds too."""
    for path in (f"{BASE}Patient/{patient.public_id}", f"{BASE}Patient"):
        first = api.get(path)
        assert first["ETag"]
        again = api.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304
