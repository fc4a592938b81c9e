"""Query parameters and headers: a value the server cannot use is a 400
problem naming the parameter, never ignored; the schema says what is taken;
OPTIONS answers the Allow header, on every route."""

import pytest

from tests.api.api_support import assert_problem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "limit", ["abc", "-1", "0", "201", "99999999999999999999", "", "1.5", "١"]
)
def test_a_limit_out_of_range_is_a_400_on_limit(api, limit):
    response = api.get("/api/v1/patients/", {"limit": limit})
    body = assert_problem(response, 400)
    assert [e["pointer"] for e in body["errors"]] == ["#/limit"]


def test_a_limit_in_range_pages_by_it(api, patient):
    from tests.clinic.factories import PatientFactory

    PatientFactory.create_batch(2, organization=patient.organization)
    response = api.get("/api/v1/patients/", {"limit": "2"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/patients/", "updated_since"),
        ("/api/v1/survey-responses/", "survey"),
        ("/api/v1/survey-responses/", "patient"),
        ("/api/v1/appointments/", "patient"),
    ],
)
def test_an_empty_filter_is_a_400_naming_it(api, path, param):
    response = api.get(path, {param: ""})
    body = assert_problem(response, 400)
    assert [e["pointer"] for e in body["errors"]] == [f"#/{param}"]


def test_the_schema_says_what_the_server_takes(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]

    def parameter(path, method, name):
        found = [p for p in paths[path][method]["parameters"] if p["name"] == name]
        return found[0]["schema"]

    assert parameter("/api/v1/patients/", "post", "Idempotency-Key") == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
    }
    assert parameter("/api/v1/survey-responses/", "get", "survey") == {
        "type": "string",
        "format": "uuid",
    }
    assert parameter("/api/v1/patients/", "get", "limit") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
    }


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/patients/by-identifier/X/", "PUT, OPTIONS"),
        ("/api/v1/appointments/by-external-id/X/", "PUT, OPTIONS"),
        ("/api/v1/patients/", "GET, POST, HEAD, OPTIONS"),
    ],
)
def test_options_answers_allow_and_no_body(api, path, allow):
    """DRF's metadata asserted on ``lookup_field`` on the upserts: a 500."""
    response = api.options(path)
    assert response.status_code == 204
    assert response["Allow"] == allow
    assert response.content == b""


@pytest.mark.parametrize(
    ("field", "value"),
    [("description", 0), ("active", 0), ("active", "true"), ("url", 1)],
)
def test_a_body_value_of_the_wrong_json_type_is_a_400(api, field, value):
    """DRF would take a number as text and 0/1 as a boolean."""
    body = {"url": "https://hooks.example.org/in", "events": ["consent.changed"]}
    response = api.post_json("/api/v1/webhooks/", body | {field: value})
    problem = assert_problem(response, 400)
    assert [e["pointer"] for e in problem["errors"]] == [f"#/{field}"]


def test_creating_a_patient_with_a_taken_identifier_is_a_409(api, patient):
    response = api.post_json(
        "/api/v1/patients/",
        {
            "identifier": patient.identifier,
            "given_name": "Ana",
            "family_name": "Lopez",
            "birth_date": "1990-01-01",
        },
    )
    problem = assert_problem(response, 409)
    assert "by-identifier" in problem["detail"]
