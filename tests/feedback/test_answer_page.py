"""The page a survey link opens: no sign-in, the patient's language, once."""

import datetime

import pytest
import time_machine

from django.test.html import Element, parse_html
from django.urls import reverse
from django.utils import timezone

from feedback.models import SurveyResponse
from feedback.services import survey_invite
from feedback.tokens import invitation_token
from tests.clinic.factories import UserFactory

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


def _elements(node):
    """Every element under a node of django.test.html.parse_html, in order."""
    for child in getattr(node, "children", []):
        if isinstance(child, Element):
            yield child
            yield from _elements(child)


def _text(node) -> str:
    return " ".join(
        _text(child) if isinstance(child, Element) else child for child in node.children
    )


def _scale_descriptions(html: str) -> dict[str, str]:
    """Each question's legend -> the text its fieldset is described by."""
    root = parse_html(html)
    by_id = {
        dict(e.attributes).get("id"): e
        for e in _elements(root)
        if dict(e.attributes).get("id")
    }
    described = {}
    for fieldset in (e for e in _elements(root) if e.name == "fieldset"):
        ref = dict(fieldset.attributes).get("aria-describedby")
        legend = next(e for e in _elements(fieldset) if e.name == "legend")
        if ref:
            described[_text(legend).replace("*", "").strip()] = " ".join(
                _text(by_id[ref]).split()
            )
    return described


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            {
                "Recommanderiez-vous la clinique ?": "0 – Pas du tout probable , "
                "10 – Extrêmement probable",
                "Satisfait ?": "1 – Pas du tout satisfait , 5 – Très satisfait",
            },
        ),
        (
            "en",
            {
                "Would you recommend the clinic?": "0 – Not at all likely , "
                "10 – Extremely likely",
                "Satisfied?": "1 – Not at all satisfied , 5 – Very satisfied",
            },
        ),
    ],
)
def test_scales_are_labelled_at_both_ends_for_the_radio_group(
    client, survey, patient, language, expected
):
    patient.preferred_language = language
    patient.save(update_fields=["preferred_language"])
    html = client.get(url(survey_invite(survey=survey, patient=patient))).content
    assert _scale_descriptions(html.decode()) == expected


def _thanks_links(response) -> list[tuple[str, str]]:
    assert response.status_code == 200
    root = parse_html(response.content.decode())
    return [
        (dict(a.attributes)["href"], " ".join(_text(a).split()))
        for a in _elements(root)
        if a.name == "a"
    ]


@pytest.mark.parametrize(
    ("language", "words"),
    [("fr", "Me connecter à mon portail patient"), ("en", "Sign in to my portal")],
)
def test_thanks_page_from_a_link_leads_to_the_portal_sign_in(
    client, survey, patient, language, words
):
    patient.preferred_language = language
    patient.save(update_fields=["preferred_language"])
    invitation = survey_invite(survey=survey, patient=patient)
    nps = survey.questions.get(kind="nps")
    response = client.post(url(invitation), {f"q{nps.pk}": "9"})
    assert _thanks_links(response) == [(reverse("account_login"), words)]


@pytest.mark.parametrize(
    ("language", "words"),
    [("fr", "Retour à mon portail patient"), ("en", "Back to my portal")],
)
def test_thanks_page_leads_a_signed_in_patient_back_to_the_portal(
    client, survey, patient, language, words
):
    patient.preferred_language = language
    patient.user = UserFactory(username="camille")
    patient.save(update_fields=["preferred_language", "user"])
    client.force_login(patient.user)
    invitation = survey_invite(survey=survey, patient=patient)
    nps = survey.questions.get(kind="nps")
    response = client.post(url(invitation), {f"q{nps.pk}": "9"})
    assert _thanks_links(response) == [(reverse("portal:home"), words)]
