"""FHIR fixtures and checks: every resource answered is validated with
``fhir.resources`` here too, independently of the view's own validation."""

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.clinic.factories import SiteFactory

FHIR_JSON = "application/fhir+json"
BASE = "/fhir/r4/"


def fhir_valid(body: dict) -> dict:
    """``body`` validated as the FHIR R4 resource it says it is."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def fhir_ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == FHIR_JSON
    return fhir_valid(response.json())


def assert_outcome(response, status: int, code: str) -> dict:
    """An OperationOutcome with one error of issue type ``code``."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == FHIR_JSON
    body = fhir_valid(response.json())
    assert body["resourceType"] == "OperationOutcome"
    [issue] = body["issue"]
    assert issue["severity"] == "error"
    assert issue["code"] == code
    assert issue["diagnostics"]
    return issue


def post_fhir(client, path, data, **extra):
    return client.post(path, data, content_type=FHIR_JSON, **extra)


def put_fhir(client, path, data, **extra):
    return client.put(path, data, content_type=FHIR_JSON, **extra)


@pytest.fixture
def site(organization):
    return SiteFactory(organization=organization)
