"""QuestionnaireResponse: survey answers over FHIR, anonymous ones without subject."""

import pytest

from api.scopes import Scope
from clinic.models import AccessAudit
from feedback.services import response_submit, survey_invite
from tests.api.fhir.conftest import assert_outcome, fhir_ok
from tests.feedback.factories import QuestionFactory, SurveyFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(organization):
    survey = SurveyFactory(organization=organization)
    QuestionFactory(survey=survey, kind="nps", required=True)
    TemplateFactory(topic=survey.topic, channel="inapp", body="{{ survey_link }}")
    return survey


def answer(survey, patient, score, ref=""):
    invitation = survey_invite(survey=survey, patient=patient, trigger_ref=ref)
    return response_submit(
        invitation=invitation, answers={survey.questions.get().pk: score}
    )


def test_read_validates_and_audits(api, survey, patient):
    response = answer(survey, patient, 8)
    body = fhir_ok(api.get(f"/fhir/r4/QuestionnaireResponse/{response.public_id}"))
    assert body["resourceType"] == "QuestionnaireResponse"
    assert body["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert body["item"][0]["answer"] == [{"valueInteger": 8}]
    assert AccessAudit.objects.filter(patient=patient).count() == 1


def test_search_by_patient(api, survey, patient, organization):
    from tests.clinic.factories import PatientFactory

    other = PatientFactory(organization=organization)
    mine = answer(survey, patient, 9)
    answer(survey, other, 3)
    bundle = fhir_ok(
        api.get(
            "/fhir/r4/QuestionnaireResponse",
            {"patient": f"Patient/{patient.public_id}"},
        )
    )
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["id"] == str(mine.public_id)


def test_anonymous_has_no_subject_and_no_audit(api, survey, patient):
    survey.anonymous = True
    survey.save()
    response = answer(survey, patient, 2)
    body = fhir_ok(api.get(f"/fhir/r4/QuestionnaireResponse/{response.public_id}"))
    assert "subject" not in body
    assert not AccessAudit.objects.exists()


def test_scope_and_organization(make_client, survey, patient, other_organization):
    response = answer(survey, patient, 9)
    url = f"/fhir/r4/QuestionnaireResponse/{response.public_id}"
    client, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert_outcome(client.get(url), 403, "forbidden")
    stranger, _ = make_client(organization=other_organization)
    assert_outcome(stranger.get(url), 404, "not-found")


def test_capability_statement_lists_it(client):
    body = client.get("/fhir/r4/metadata").json()
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert "QuestionnaireResponse" in types
