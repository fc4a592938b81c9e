"""The page a survey link opens: no sign-in, the patient's language, once."""

import datetime

import pytest
import time_machine

from django.utils import timezone

from feedback.models import SurveyResponse
from feedback.services import survey_invite
from feedback.tokens import invitation_token

pytestmark = pytest.mark.django_db


def url(invitation):
    return f"/s/{invitation_token(invitation)}/"


def test_get_shows_questions_in_the_patients_language_and_changes_nothing(
    client, survey, patient
):
    # A name no word of the page can contain by chance.
    patient.family_name = "Quorvandel"
    patient.save(update_fields=["family_name"])
    invitation = survey_invite(survey=survey, patient=patient)
    response = client.get(url(invitation))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Votre avis compte" in html
    assert "Recommanderiez-vous" in html
    assert "Envoyer mes réponses" in html
    assert patient.family_name not in html  # nothing personal on a forwarded link
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_english_patient_gets_english(client, survey, patient):
    patient.preferred_language = "en"
    patient.save()
    html = client.get(
        url(survey_invite(survey=survey, patient=patient))
    ).content.decode()
    assert "Your opinion matters" in html
    assert "Send my answers" in html


def test_post_keeps_answers_once(client, survey, patient):
    invitation = survey_invite(survey=survey, patient=patient)
    nps = survey.questions.get(kind="nps")
    text = survey.questions.get(kind="text")
    response = client.post(url(invitation), {f"q{nps.pk}": "7", f"q{text.pk}": "Merci"})
    assert response.status_code == 200
    assert "Merci" in response.content.decode()  # the thank-you page
    saved = SurveyResponse.objects.get()
    assert {a.question_id: (a.score, a.text) for a in saved.answers.all()} == {
        nps.pk: (7, ""),
        text.pk: (None, "Merci"),
    }
    again = client.post(url(invitation), {f"q{nps.pk}": "1"})
    assert again.status_code == 400
    assert "déjà répondu" in again.content.decode()
    assert SurveyResponse.objects.count() == 1


def test_missing_required_answer_shows_the_form_again(client, survey, patient):
    invitation = survey_invite(survey=survey, patient=patient)
    response = client.post(url(invitation), {})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "zz", lambda t: "x" + t])
def test_tampered_link_is_refused(client, survey, patient, mangle):
    token = invitation_token(survey_invite(survey=survey, patient=patient))
    response = client.get(f"/s/{mangle(token)}/")
    assert response.status_code == 400


def test_expired_link_says_so(client, survey, patient):
    invitation = survey_invite(survey=survey, patient=patient)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=15)):
        response = client.get(url(invitation))
    assert response.status_code == 400
    assert (
        "expired" in response.content.decode() or "expiré" in response.content.decode()
    )
