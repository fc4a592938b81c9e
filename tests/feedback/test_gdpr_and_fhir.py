"""Feedback in a patient's export and erasure, and as FHIR QuestionnaireResponse."""

import pytest

from consent.gdpr import registry
from feedback.fhir import survey_response_to_fhir
from feedback.models import Answer, SurveyInvitation, SurveyResponse
from feedback.services import response_submit, survey_invite

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(survey, patient):
    q = {q.kind: q for q in survey.questions.all()}
    invitation = survey_invite(survey=survey, patient=patient)
    return response_submit(
        invitation=invitation,
        answers={q["nps"].pk: 4, q["multiple"].pk: ["wait"], q["text"].pk: "Long"},
    )


def test_fhir_questionnaire_response_validates(answered, patient):
    resource = survey_response_to_fhir(answered)
    assert resource["status"] == "in-progress"  # csat left unanswered
    assert resource["subject"]["reference"] == f"urn:uuid:{patient.public_id}"
    values = [item.get("answer") for item in resource["item"]]
    assert [{"valueInteger": 4}] in values


def test_anonymous_fhir_has_no_subject(survey, patient):
    survey.anonymous = True
    survey.save()
    nps = survey.questions.get(kind="nps")
    response = response_submit(
        invitation=survey_invite(survey=survey, patient=patient), answers={nps.pk: 10}
    )
    resource = survey_response_to_fhir(response)
    assert "subject" not in resource
    assert "source" not in resource


def test_export_lists_the_patients_answers(answered, patient):
    section = registry.exporters()["survey_responses"](patient)
    assert section[0]["answers"][0]["score"] == 4


def test_erasure_unlinks_and_drops_free_text(answered, patient):
    from feedback.gdpr import responses_erase

    responses_erase(patient)
    answered.refresh_from_db()
    assert answered.patient_id is None
    assert answered.invitation_id is None
    assert not Answer.objects.exclude(text="").exists()
    assert Answer.objects.filter(score=4).exists()  # statistics kept
    assert not SurveyInvitation.objects.filter(patient=patient).exists()
    assert SurveyResponse.objects.count() == 1
