"""``/api/v1/surveys/`` and ``/api/v1/survey-responses/``: read-only."""

import pytest

from api.scopes import Scope
from clinic.models import AccessAudit
from feedback.services import response_submit, survey_invite
from tests.api.api_support import assert_problem
from tests.clinic.factories import PatientFactory
from tests.feedback.factories import QuestionFactory, SurveyFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(organization):
    survey = SurveyFactory(organization=organization)
    QuestionFactory(survey=survey, kind="nps", required=True)
    TemplateFactory(topic=survey.topic, channel="inapp", body="{{ survey_link }}")
    return survey


def answer(survey, patient, score):
    question = survey.questions.get()
    invitation = survey_invite(survey=survey, patient=patient)
    return response_submit(invitation=invitation, answers={question.pk: score})


def test_lists_surveys_with_questions(api, survey, other_organization):
    SurveyFactory(organization=other_organization)
    rows = api.get("/api/v1/surveys/").json()["results"]
    assert [row["id"] for row in rows] == [str(survey.public_id)]
    assert rows[0]["questions"][0]["kind"] == "nps"


def test_responses_with_answers_and_audit(api, survey, patient):
    response = answer(survey, patient, 9)
    body = api.get(f"/api/v1/survey-responses/{response.public_id}/").json()
    assert body["patient"] == str(patient.public_id)
    assert body["answers"] == [
        {"question": survey.questions.get().pk, "score": 9, "choices": [], "text": ""}
    ]
    audit = AccessAudit.objects.get(patient=patient)
    assert audit.actor_label == "API key EHR sync"


def test_filters_by_patient_and_survey(api, survey, patient, organization):
    other = PatientFactory(organization=organization)
    mine = answer(survey, patient, 9)
    answer(survey, other, 2)
    rows = api.get("/api/v1/survey-responses/", {"patient": patient.public_id}).json()
    assert [row["id"] for row in rows["results"]] == [str(mine.public_id)]
    rows = api.get("/api/v1/survey-responses/", {"survey": survey.public_id}).json()
    assert len(rows["results"]) == 2
    assert_problem(api.get("/api/v1/survey-responses/", {"survey": "nope"}), 400)


def test_anonymous_responses_have_no_patient(api, survey, patient):
    survey.anonymous = True
    survey.save()
    response = answer(survey, patient, 5)
    body = api.get(f"/api/v1/survey-responses/{response.public_id}/").json()
    assert body["patient"] is None
    assert not AccessAudit.objects.exists()


def test_scope_and_organization(make_client, survey, patient, other_organization):
    response = answer(survey, patient, 9)
    client, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert_problem(client.get("/api/v1/survey-responses/"), 403)
    stranger, _ = make_client(organization=other_organization)
    assert_problem(stranger.get(f"/api/v1/survey-responses/{response.public_id}/"), 404)
    assert_problem(stranger.get(f"/api/v1/surveys/{survey.public_id}/"), 404)
