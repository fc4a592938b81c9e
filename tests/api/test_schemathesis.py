"""Schemathesis against the OpenAPI schema the app serves, on a seeded
database: for every operation, generated requests (valid and invalid) never
get a server error, and every answer's status code, content type and body are
the ones the schema declares.

Requests go through the WSGI app in-process (no server), with a key of every
scope. Half the cases address the seeded objects (path ids, ``?patient=``),
so answers other than 404 and 400 are checked too. Examples are few and
derandomized, so CI runs the same cases each time, in well under a minute.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as CHECKS_REGISTRY
from schemathesis.checks import load_all_checks, positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation

from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from api.keys import api_key_create
from api.models import IdempotencyRecord
from api.scopes import Scope
from tests.api.scope_support import World

pytestmark = pytest.mark.django_db

# More for a deeper local run: SCHEMATHESIS_EXAMPLES=200 pytest …
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
load_all_checks()


def positive_data_acceptance_or_field_error(ctx, response, case):
    """``positive_data_acceptance``, except for a 400 whose problem names
    each field it refuses: a rule no schema states (an id naming no object of
    the organization, a birth date in the future, a time zone or phone number
    that does not exist). Any other refusal of schema-valid data still fails,
    a 400 without field errors or a 422 included."""
    if response.status_code == 400:
        errors = response.json().get("errors") or []
        if errors and all(e.get("pointer", "").startswith("#/") for e in errors):
            return None
    return positive_data_acceptance(ctx, response, case)


#: Every check schemathesis has (``--checks all``): no 5xx, answers as
#: declared, negative data refused, valid data accepted (but for field
#: errors, above), missing required headers refused, unsupported methods 405,
#: Allow as documented, no use after delete, auth not ignored.
CHECKS = [
    positive_data_acceptance_or_field_error
    if check is positive_data_acceptance
    else check
    for check in CHECKS_REGISTRY.get_all()
]

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

#: Path kwarg of an operation -> the seeded object that fills it.
SEEDED = {
    "patients": {"id": "patient", "identifier": None},
    "appointments": {"id": "appointment", "external_id": None},
    "messages": {"id": "message"},
    "conversations": {"id": "conversation"},
    "surveys": {"id": "survey"},
    "survey-responses": {"id": "survey_response"},
    "webhooks": {"id": "webhook", "delivery_id": "webhook_delivery"},
}


def seeded_path(operation, world: World) -> dict[str, str]:
    """Path parameters naming the seeded objects (empty when it has none)."""
    collection = operation.path.removeprefix("/api/v1/").split("/")[0]
    names = SEEDED.get(collection, {})
    values = {}
    for parameter in operation.path_parameters:
        attribute = names.get(parameter.name)
        if attribute is None:
            if parameter.name == "identifier":
                values[parameter.name] = world.patient.identifier
            elif parameter.name == "external_id":
                values[parameter.name] = world.appointment.external_id
            else:
                return {}
        else:
            values[parameter.name] = str(getattr(world, attribute).public_id)
    return values


def seeded_query(operation, world: World) -> dict[str, str]:
    names = {p.name for p in operation.query}
    return {"patient": str(world.patient.public_id)} if "patient" in names else {}


def call_and_validate(case, raw_key: str) -> None:
    """Send ``case`` with the key, unless the case is about the
    Authorization header itself (left out or malformed on purpose: then as
    generated), and judge it on its own: an Idempotency-Key generated twice
    is not a retry of the earlier request (replays are tested elsewhere)."""
    meta = case.meta
    phase = meta.phase.data if meta else None
    header = meta.components.get(ParameterLocation.HEADER) if meta else None
    about_auth = getattr(phase, "parameter", None) == "Authorization" or (
        header is not None
        and header.mode.is_negative
        and "Authorization" not in (case.headers or {})
    )
    headers = {} if about_auth else {"Authorization": f"Bearer {raw_key}"}
    IdempotencyRecord.objects.all().delete()
    case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.fixture
def wsgi_in_test_transaction():
    """Keep the test's connection across WSGI requests, as Django's test
    client does: the end of a request would close it (it is inside the
    test's transaction), on PostgreSQL."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("wsgi_in_test_transaction")
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_keeps_to_the_schema(operation, organization):
    """Generated requests get no 5xx and only declared answers."""
    # given: one of each kind of object, and a key with every scope
    world = World(organization)
    world.conversation, world.consent_event, world.survey_response  # noqa: B018
    world.webhook_delivery, world.appointment  # noqa: B018
    _key, raw = api_key_create(
        organization=organization,
        name="Schemathesis",
        scopes=list(Scope.values),
        rate_per_minute=100_000,
    )
    strategies = [
        operation.as_strategy(mode)
        for mode in (
            schemathesis.GenerationMode.POSITIVE,
            schemathesis.GenerationMode.NEGATIVE,
        )
    ]
    path, query = seeded_path(operation, world), seeded_query(operation, world)
    if path or query:
        strategies.append(
            operation.as_strategy(path_parameters=path or None, query=query or None)
        )

    # when / then
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=st.one_of(strategies))
    def run(case):
        call_and_validate(case, raw)

    run()


@pytest.mark.usefixtures("wsgi_in_test_transaction")
@SCHEMA.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_coverage_cases_keep_to_the_schema(case, organization):
    """Schemathesis's coverage phase, as ``st run --checks all`` runs it:
    boundary and invalid values of every parameter, missing required headers,
    methods the operation does not serve; every check."""
    _key, raw = api_key_create(
        organization=organization,
        name="Schemathesis",
        scopes=list(Scope.values),
        rate_per_minute=100_000,
    )
    call_and_validate(case, raw)


# What schemathesis found, kept as plain tests.


def test_an_impossible_time_is_a_field_error(api, patient):
    """A well-formed but impossible time (12:99) is a 400 on the field, not a 500."""
    response = api.put_json(
        "/api/v1/appointments/by-external-id/b-1/",
        {
            "patient": str(patient.public_id),
            "starts_at": "2026-01-01T12:99:00Z",
            "ends_at": "2026-01-01T13:30:00Z",
        },
    )
    assert response.status_code == 400
    pointers = [e["pointer"] for e in response.json()["errors"]]
    assert "#/starts_at" in pointers


def test_a_read_with_a_query_documents_400(client):
    """A read of one thing that takes query parameters can answer 400, and
    says so (``/consent/decisions/?patient=`` of no patient)."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    decisions = schema["paths"]["/api/v1/consent/decisions/"]["get"]["responses"]
    patient = schema["paths"]["/api/v1/patients/{id}/"]["get"]["responses"]
    assert "400" in decisions
    assert "400" not in patient


def test_a_nul_in_a_slug_is_a_field_error(api, patient):
    """A topic slug with a NUL character is a 400 on the field (PostgreSQL
    refuses NUL in text, even in a lookup: it was a 500 there)."""
    response = api.post_json(
        "/api/v1/messages/",
        {"patient": str(patient.public_id), "topic": "care\x00", "text": "Bonjour."},
    )
    assert response.status_code == 400
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/topic"]


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("0527-02-23T19:01:05+23:54", 200),  # PostgreSQL refused the offset
        ("0001-01-01T00:00:00+01:00", 400),  # before year 1 in UTC
    ],
)
def test_updated_since_with_an_extreme_offset(api, since, status):
    """``updated_since`` is compared in UTC; one out of range is a 400."""
    response = api.get("/api/v1/patients/", {"updated_since": since})
    assert response.status_code == status


def test_fhir_date_search_with_an_extreme_offset(api):
    """The same in a FHIR search: compared in UTC (a 500 on PostgreSQL before)."""
    response = api.get("/fhir/r4/Appointment", {"date": "ge2026-01-01T00:00+23:54"})
    assert response.status_code == 200
