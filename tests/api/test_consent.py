"""``/api/v1/consent/``: what consent answers for a patient, and recording
consent from a partner system with its evidence."""

import datetime

import pytest

from django.utils import timezone

from api.scopes import Scope
from clinic.models import AccessAudit
from consent.models import ConsentEvent
from consent.selectors import decide
from consent.services import consent_record
from tests.api.api_support import assert_problem
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

CONSENT = "/api/v1/consent/"
DECISIONS = f"{CONSENT}decisions/"


@pytest.fixture
def news(organization):
    return TopicFactory(
        organization=organization,
        slug="news",
        purpose="marketing",
        channels=["inapp", "email"],
    )


def decisions(client, patient, **query):
    response = client.get(DECISIONS, {"patient": str(patient.public_id), **query})
    assert response.status_code == 200, response.content
    return {(d["topic"], d["channel"]): d for d in response.json()["decisions"]}


def test_decisions_say_why_not_and_audit(api, patient, news):
    # when
    rows = decisions(api, patient)
    # then
    assert set(rows) == {("news", "inapp"), ("news", "email")}
    email = rows[("news", "email")]
    assert email["outcome"] == "suppress"
    assert email["reason"] == "no_opt_in"
    assert email["reason_label"] == "The patient has not opted in"
    assert email["why"] is None
    assert AccessAudit.objects.filter(
        patient=patient, detail="API: consent decisions"
    ).exists()


def test_recorded_opt_in_is_the_reason_it_is_allowed(api, patient, news):
    # when
    response = api.post_json(
        CONSENT,
        {
            "patient": str(patient.public_id),
            "topic": "news",
            "channel": "email",
            "granted": True,
            "wording_version": "2026-03",
            "evidence": {"form": "booking-site-42"},
        },
    )
    # then
    assert response.status_code == 201, response.content
    event = ConsentEvent.objects.get(public_id=response.json()["id"])
    assert event.source == "api"
    assert event.actor_label == "API key EHR sync"
    assert event.evidence == {"form": "booking-site-42"}
    assert response.json()["granted"] is True
    row = decisions(api, patient, topic="news", channel="email")[("news", "email")]
    assert row["outcome"] in ("allow", "defer")
    assert row["why"]["consent_event"] == str(event.public_id)
    assert row["why"]["lawful_basis"] == "consent"
    assert row["why"]["description"]
    assert decide(patient, news, "email").reason != "no_opt_in"


def test_decision_matches_the_pipelines_answer(api, patient, organization):
    care = TopicFactory(organization=organization, slug="care", channels=["email"])
    consent_record(patient=patient, granted=False, source="staff", topic=care)
    row = decisions(api, patient, topic="care")[("care", "email")]
    expected = decide(patient, care, "email")
    assert (row["outcome"], row["reason"]) == (expected.outcome, expected.reason)
    assert row["reason"] == "opted_out"


def test_withdrawing_security_is_a_400_and_nothing_is_written(
    api, organization, patient
):
    TopicFactory(organization=organization, slug="codes", purpose="security")
    body = {"patient": str(patient.public_id), "topic": "codes", "granted": False}
    assert_problem(api.post_json(CONSENT, body), 400)
    assert not ConsentEvent.objects.exists()


def test_purpose_or_topic_and_known_values(api, patient, news):
    base = {"patient": str(patient.public_id), "granted": True}
    assert_problem(api.post_json(CONSENT, base), 400)
    both = {**base, "purpose": "marketing", "topic": "news"}
    assert_problem(api.post_json(CONSENT, both), 400)
    problem = assert_problem(
        api.post_json(CONSENT, {**base, "purpose": "marketing", "channel": "fax"}), 400
    )
    assert problem["errors"][0]["pointer"] == "#/channel"
    whole = api.post_json(CONSENT, {**base, "purpose": "marketing"})
    assert whole.status_code == 201
    assert whole.json()["topic"] is None
    assert whole.json()["channel"] == ""


def test_a_moment_in_the_future_is_refused(api, patient, news):
    body = {
        "patient": str(patient.public_id),
        "topic": "news",
        "granted": True,
        "occurred_at": (timezone.now() + datetime.timedelta(days=1)).isoformat(),
    }
    assert_problem(api.post_json(CONSENT, body), 400)
    body["occurred_at"] = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert api.post_json(CONSENT, body).status_code == 201


def test_another_organizations_patient_or_topic_is_400(
    api, other_organization, patient
):
    stranger = PatientFactory(organization=other_organization)
    TopicFactory(organization=other_organization, slug="theirs")
    problem = assert_problem(
        api.post_json(
            CONSENT,
            {"patient": str(stranger.public_id), "purpose": "care", "granted": True},
        ),
        400,
    )
    assert problem["errors"][0]["pointer"] == "#/patient"
    problem = assert_problem(
        api.post_json(
            CONSENT,
            {"patient": str(patient.public_id), "topic": "theirs", "granted": True},
        ),
        400,
    )
    assert problem["errors"][0]["pointer"] == "#/topic"
    assert_problem(api.get(DECISIONS, {"patient": str(stranger.public_id)}), 400)
    assert_problem(
        api.get(DECISIONS, {"patient": str(patient.public_id), "topic": "theirs"}),
        400,
    )
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"channel": "fax"},
        {"at": "tomorrow"},
        {"at": "2026-01-01T10:00"},
        {"at": "2026-01-01T12:99:00Z"},
    ],
)
def test_decisions_refuse_bad_queries(api, patient, news, query):
    if query:
        query = {"patient": str(patient.public_id), **query}
    assert_problem(api.get(DECISIONS, query), 400)


def test_scopes(make_client, patient, news):
    reader, _ = make_client(scopes=[Scope.CONSENT_READ])
    assert reader.get(DECISIONS, {"patient": str(patient.public_id)}).status_code == 200
    body = {"patient": str(patient.public_id), "topic": "news", "granted": True}
    assert_problem(reader.post_json(CONSENT, body), 403)
    writer, _ = make_client(scopes=[Scope.CONSENT_WRITE])
    assert writer.post_json(CONSENT, body).status_code == 201
    assert_problem(writer.get(DECISIONS, {"patient": str(patient.public_id)}), 403)
