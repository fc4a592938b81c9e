"""The portal's feedback page: surveys waiting for the patient, and what the
clinic changed after feedback."""

import datetime

import pytest

from django.utils import timezone

from feedback.models import ImprovementNote
from feedback.services import response_submit, survey_invite
from feedback.tokens import invitation_url
from tests.feedback.factories import QuestionFactory, SurveyFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(organization):
    survey = SurveyFactory(organization=organization, title_fr="Votre visite")
    QuestionFactory(survey=survey)
    TemplateFactory(topic=survey.topic, channel="inapp", body="{{ survey_link }}")
    return survey


def test_lists_open_invitations_only(patient_client, patient_user, survey):
    _user, patient = patient_user
    open_one = survey_invite(survey=survey, patient=patient, trigger_ref="a")
    answered = survey_invite(survey=survey, patient=patient, trigger_ref="b")
    response_submit(invitation=answered, answers={})
    expired = survey_invite(
        survey=survey,
        patient=patient,
        trigger_ref="c",
        now=timezone.now() - datetime.timedelta(days=30),
    )
    html = patient_client.get("/portal/feedback/").content.decode()
    assert invitation_url(open_one) in html
    assert invitation_url(answered) not in html
    assert invitation_url(expired) not in html
    # The link answers as the invitation does (signed, single use).
    assert patient_client.get(invitation_url(open_one)).status_code == 200


def test_shows_published_notes_of_the_patients_organization(
    patient_client, organization, other_organization
):
    ImprovementNote.objects.create(
        organization=organization,
        you_said_fr="Trop d'attente au téléphone",
        you_said_en="Too long on hold",
        we_did_fr="Rappel automatique",
        we_did_en="Automatic call-back",
        published_at=timezone.now(),
    )
    ImprovementNote.objects.create(
        organization=organization,
        you_said_fr="Brouillon",
        you_said_en="Draft",
        we_did_fr="Pas encore",
        we_did_en="Not yet",
    )
    ImprovementNote.objects.create(
        organization=other_organization,
        you_said_fr="Ailleurs",
        you_said_en="Elsewhere",
        we_did_fr="Ailleurs",
        we_did_en="Elsewhere",
        published_at=timezone.now(),
    )
    html = patient_client.get("/portal/feedback/").content.decode()
    assert "Rappel automatique" in html or "Automatic call-back" in html
    assert "Pas encore" not in html
    assert "Not yet" not in html
    assert "Ailleurs" not in html
    assert "Elsewhere" not in html


def test_a_proxy_does_not_answer_for_the_patient(client, caregiver):
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    assert client.get("/portal/feedback/").status_code == 404
