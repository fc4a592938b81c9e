"""What staff name and patients read has a name per language: a patient
reads topics, surveys and questions in their own language, whatever the
clinic's (issue 19)."""

import pytest

from feedback.services import survey_invite
from feedback.tokens import invitation_url
from tests.clinic.factories import PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.feedback.factories import QuestionFactory, SurveyFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db

FRENCH = ["Rappels de rendez-vous", "Votre avis sur votre visite", "Comment était-ce ?"]
ENGLISH = ["Appointment reminders", "Your opinion on your visit", "How was it?"]


@pytest.fixture
def named(organization):
    """A French clinic's topic and survey, each named in both languages."""
    TopicFactory(
        organization=organization,
        slug="appointment-reminders",
        name_fr=FRENCH[0],
        name_en=ENGLISH[0],
    )
    survey = SurveyFactory(
        organization=organization,
        name="Après votre visite",  # staff only
        title_fr=FRENCH[1],
        title_en=ENGLISH[1],
    )
    QuestionFactory(survey=survey, kind="csat", text_fr=FRENCH[2], text_en=ENGLISH[2])
    TemplateFactory(topic=survey.topic, channel="inapp", body="{{ survey_link }}")
    return survey


def _pages(client, organization, survey, language: str) -> str:
    user = UserFactory(username=f"patient-{language}")
    patient = PatientFactory(
        organization=organization, user=user, preferred_language=language
    )
    invitation = survey_invite(survey=survey, patient=patient, trigger_ref="visit")
    client.force_login(user)
    return "".join(
        client.get(url).content.decode()
        for url in (
            "/portal/preferences/",
            "/portal/feedback/",
            invitation_url(invitation),
        )
    )


@pytest.mark.parametrize(
    ("language", "reads", "never"),
    [("en", ENGLISH, FRENCH), ("fr", FRENCH, ENGLISH)],
)
def test_a_patient_reads_names_in_their_language(
    client, organization, named, language, reads, never
):
    """The clinic is French; its English-speaking patient reads English names."""
    # given
    assert organization.default_language == "fr"
    # when
    html = _pages(client, organization, named, language)
    # then
    for name in reads:
        assert name in html
    for name in never:
        assert name not in html
    assert "Après votre visite" not in html  # the staff's name of the survey
