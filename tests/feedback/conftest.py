import pytest

from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.feedback.factories import QuestionFactory, SurveyFactory
from tests.messaging.factories import TemplateFactory


@pytest.fixture
def organization(db):
    return OrganizationFactory(slug="north", default_language="fr")


@pytest.fixture
def survey(organization):
    survey = SurveyFactory(organization=organization)
    for channel, language in [
        ("sms", "fr"),
        ("sms", "en"),
        ("inapp", "fr"),
        ("inapp", "en"),
    ]:
        TemplateFactory(
            topic=survey.topic,
            channel=channel,
            language=language,
            body="Votre avis : {{ survey_link }}",
        )
    QuestionFactory(survey=survey, kind="nps", required=True)
    QuestionFactory(
        survey=survey, kind="csat", text_fr="Satisfait ?", text_en="Satisfied?"
    )
    QuestionFactory(
        survey=survey,
        kind="multiple",
        text_fr="Qu'avez-vous apprécié ?",
        text_en="What did you like?",
        choices=[
            {"value": "welcome", "fr": "L'accueil", "en": "The welcome"},
            {"value": "wait", "fr": "L'attente", "en": "The wait"},
        ],
    )
    QuestionFactory(
        survey=survey, kind="text", text_fr="Un mot ?", text_en="Anything else?"
    )
    return survey


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization, preferred_language="fr")
