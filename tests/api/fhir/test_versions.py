"""FHIR create and update answer the version (ETag, Last-Modified, Location
with ``_history``), the version can be read back (vread), and OPTIONS is a
405 OperationOutcome, never DRF's metadata."""

import datetime

import pytest
import time_machine

from django.utils.http import http_date

from tests.api.fhir.bodies_support import new_appointment, new_request
from tests.api.fhir.conftest import (
    FHIR_JSON,
    assert_outcome,
    fhir_ok,
    post_fhir,
    put_fhir,
)
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
BASE = "/fhir/r4/"
SEARCH = BASE + "Appointment"
NOON = WEEKDAY_NOON_PARIS.replace(microsecond=123456)  # versions keep microseconds


def test_create_answers_etag_last_modified_and_a_versioned_location(api, patient, site):
    # when
    with time_machine.travel(NOON, tick=False):
        response = post_fhir(api, SEARCH, new_appointment(patient, site=site))
    # then
    body = fhir_ok(response, 201)
    version = body["meta"]["versionId"]
    assert version == "1773140400123456"  # NOON in µs since the epoch
    assert response["ETag"] == f'W/"{version}"'
    assert response["Last-Modified"] == http_date(NOON.timestamp())
    assert response["Location"] == (
        f"http://testserver{BASE}Appointment/{body['id']}/_history/{version}"
    )


def test_the_location_of_a_create_reads_the_resource(api, patient, site):
    # given
    created = post_fhir(api, SEARCH, new_appointment(patient, site=site))
    # when
    response = api.get(created["Location"].removeprefix("http://testserver"))
    # then
    assert fhir_ok(response) == created.json()


def test_an_update_moves_the_version_and_the_old_one_is_gone(api, patient, site):
    # given
    with time_machine.travel(NOON, tick=False):
        created = fhir_ok(
            post_fhir(api, SEARCH, new_appointment(patient, site=site)), 201
        )
    old = created["meta"]["versionId"]
    changed = created | {"appointmentType": {"text": "follow-up"}}
    # when
    with time_machine.travel(NOON + datetime.timedelta(minutes=1), tick=False):
        response = put_fhir(api, f"{SEARCH}/{created['id']}", changed)
    # then
    body = fhir_ok(response)
    assert body["meta"]["versionId"] != old
    assert response["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    assert_outcome(
        api.get(f"{SEARCH}/{created['id']}/_history/{old}"), 404, "not-found"
    )


def test_a_communication_request_create_is_versioned_too(api, organization, patient):
    from tests.consent.factories import TopicFactory

    TopicFactory(organization=organization, slug="results-ready")
    response = post_fhir(
        api, BASE + "CommunicationRequest", new_request(patient, organization)
    )
    body = fhir_ok(response, 201)
    assert response["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    assert response["Location"].endswith(
        f"/CommunicationRequest/{body['id']}/_history/{body['meta']['versionId']}"
    )
    assert response["Last-Modified"]


@pytest.mark.parametrize("path", ["Patient", "Appointment", "metadata"])
def test_options_is_a_405_outcome_with_allow(api, path):
    response = api.options(BASE + path)
    body = assert_outcome(response, 405, "not-supported")
    assert response["Content-Type"].startswith(FHIR_JSON)
    assert "actions" not in body
    assert "renders" not in body
    assert "OPTIONS" not in response["Allow"]
    assert "GET" in response["Allow"]
