"""survey.completed: ids only, never the answers; no patient for an anonymous survey."""

import pytest

from feedback.services import response_submit, survey_invite
from tests.api.webhooks_support import received
from tests.clinic.factories import PatientFactory
from tests.feedback.factories import QuestionFactory, SurveyFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(organization):
    survey = SurveyFactory(organization=organization)
    QuestionFactory(survey=survey, kind="text", required=True)
    TemplateFactory(topic=survey.topic, channel="inapp", body="{{ survey_link }}")
    return survey


def test_survey_completed_carries_ids_not_answers(
    httpserver, hook, send_on_commit, survey
):
    _subscription, secret = hook
    patient = PatientFactory(organization=survey.organization)
    invitation = survey_invite(survey=survey, patient=patient)
    with send_on_commit():
        response = response_submit(
            invitation=invitation, answers={survey.questions.get().pk: "My knee hurts"}
        )
    bodies = [
        b for b in received(httpserver, secret) if b["type"] == "survey.completed"
    ]
    assert len(bodies) == 1
    assert bodies[0]["data"] == {
        "response": str(response.public_id),
        "survey": str(survey.public_id),
        "patient": str(patient.public_id),
        "complete": True,
        "submitted_at": response.submitted_at.isoformat().replace("+00:00", "Z"),
    }
    assert "knee" not in "".join(r.get_data(as_text=True) for r, _ in httpserver.log)


def test_anonymous_survey_names_nobody(httpserver, hook, send_on_commit, survey):
    _subscription, secret = hook
    survey.anonymous = True
    survey.save()
    invitation = survey_invite(
        survey=survey, patient=PatientFactory(organization=survey.organization)
    )
    with send_on_commit():
        response_submit(
            invitation=invitation, answers={survey.questions.get().pk: "ok"}
        )
    [body] = [
        b for b in received(httpserver, secret) if b["type"] == "survey.completed"
    ]
    assert body["data"]["patient"] is None
