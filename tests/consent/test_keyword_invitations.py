"""No text Liaison sends asks for a reply that carriers read as an opt-out,
except to opt out: "Reply CANCEL to cancel" would unsubscribe the patient."""

from pathlib import Path

import polib
import pytest

from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext

from clinic.models import Organization
from consent.keywords import (
    Keyword,
    keyword_invitations,
    keyword_invitations_error,
    keyword_invitations_misread,
    keyword_reply,
)
from conversations import demo as conversations_demo
from feedback import demo as feedback_demo
from messaging import demo as messaging_demo
from messaging.content import confidential_notice
from tests.messaging.factories import TemplateFactory
from tests.outreach.reminders_factories import SMS_EN, SMS_FR

LOCALE = Path(__file__).resolve().parents[2] / "locale"

MISREAD = [
    ("Reply CANCEL to cancel", ["CANCEL"]),
    ("Reply C to confirm or CANCEL", ["CANCEL"]),
    ("Reply C to confirm, CANCEL to change the time.", ["CANCEL"]),
    ("Reply with 'cancel' to cancel your visit", ["CANCEL"]),
    ("Reply STOP to confirm", ["STOP"]),
    ("Reply OPT OUT to cancel your appointment", ["OPT OUT"]),
    ("Text END.", ["END"]),
    ("Reply QUIT", ["QUIT"]),
    ("Répondez STOP pour annuler", ["STOP"]),
    ("Répondez ANNULER ou STOP pour annuler votre rendez-vous.", ["STOP"]),
    ("Envoyez QUIT pour quitter la liste d'attente", ["QUIT"]),
    ("Tapez END pour terminer", ["END"]),
    ("Répondez-nous par « Arrêt » pour reporter.", ["ARRET"]),
]
FINE = [
    "Reply STOP to opt out",
    "Reply STOP to stop, HELP for help.",
    "Reply STOP.",
    "Reply CANCEL to unsubscribe",
    "Reply END to end these texts",
    "Text STOP to 36111 to opt out",
    "Text STOP to this number to opt out",
    "Répondez STOP pour ne plus recevoir de SMS",
    "Envoyez STOP SMS au 36111",
    "Répondez ARRET pour vous désabonner",
    "STOP au 36111",
    "Reply C to confirm, A to cancel.",
    "Répondez C pour confirmer, A pour annuler.",
    "Reply YES or OUI to take it",
    "Cancel online: {{ cancel_link }}",
    "To cancel, reply A.",
    "Reply {{ confirm_link }} to cancel",
]


@pytest.mark.parametrize(("text", "words"), MISREAD)
def test_an_opt_out_word_asked_for_something_else_is_found(text, words):
    """The words carriers read as STOP, asked for another purpose, are named."""
    assert [i.word for i in keyword_invitations_misread(text)] == words


@pytest.mark.parametrize("text", FINE)
def test_opting_out_by_its_word_and_other_answers_are_fine(text):
    """STOP to opt out, and answers no carrier reads as STOP, are not refused."""
    assert keyword_invitations_misread(text) == []
    assert keyword_invitations_error(text) is None


def test_invitations_list_every_alternative_and_its_purpose():
    """Both answers of a reminder are found, each with what it does, and a
    link offered after them is no answer."""
    # when
    found = keyword_invitations(
        "RDV demain. Reply C to confirm, A to cancel, or open {{ confirm_link }}. "
        "Reply STOP to opt out."
    )
    # then
    assert [(i.word, i.purpose, i.opts_out, i.to_opt_out) for i in found] == [
        ("C", "TO CONFIRM", False, False),
        ("A", "TO CANCEL", False, False),
        ("STOP", "TO OPT OUT", True, True),
    ]


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Carriers read CANCEL, END as an opt-out"),
        ("fr", "lisent CANCEL, END comme une"),
    ],
)
def test_the_error_names_the_words_in_the_staff_language(language, said):
    """Staff are told which words and why, in their language."""
    with translation.override(language):
        error = keyword_invitations_error("Reply CANCEL to cancel or END to move it")
    assert said in error


def _texts_sent_by_liaison() -> dict[str, str]:
    """Every SMS and voice text Liaison itself ships: demo templates, saved
    replies, the reminder templates of the test factories."""
    texts = {}
    for slug, channels in messaging_demo.TEMPLATES.items():
        for channel in ("sms", "voice"):
            for language, (_, body) in channels.get(channel, {}).items():
                texts[f"messaging demo {slug} {channel} {language}"] = body
    for (channel, language), (_, body) in feedback_demo.TEMPLATES.items():
        if channel in ("sms", "voice"):
            texts[f"feedback demo {channel} {language}"] = body
    for title, _, body in conversations_demo.SAVED_REPLIES:
        texts[f"saved reply {title}"] = body
    texts["reminder factory fr"] = SMS_FR
    texts["reminder factory en"] = SMS_EN
    texts["template factory"] = TemplateFactory.body
    return texts


def test_no_template_liaison_ships_invites_a_misread_opt_out():
    """The demo and factory templates ask for C and A, never CANCEL."""
    # given
    texts = _texts_sent_by_liaison()
    # when
    misread = {
        name: [i.word for i in keyword_invitations_misread(text)]
        for name, text in texts.items()
    }
    # then
    assert {name: words for name, words in misread.items() if words} == {}
    assert [i.word for i in keyword_invitations(texts["reminder factory en"])] == [
        "C",
        "A",
    ]
    assert "messaging demo appointment-reminders sms fr" in texts


def _catalogue_texts(language: str) -> list[str]:
    """Every string of Liaison's catalogue as ``language`` renders it."""
    texts = []
    with translation.override(language):
        for entry in polib.pofile(str(LOCALE / "fr/LC_MESSAGES/django.po")):
            if entry.obsolete:
                continue
            if entry.msgid_plural:
                texts += [ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            elif entry.msgctxt:
                texts.append(pgettext(entry.msgctxt, entry.msgid))
            else:
                texts.append(gettext(entry.msgid))
    return texts


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_translated_string_invites_a_misread_opt_out(language):
    """Keyword replies, reminder answers, waitlist offers, notices: no string
    of the catalogue, in French or English, asks for CANCEL to cancel."""
    # given
    texts = _catalogue_texts(language)
    # when
    misread = [
        (text, [i.word for i in keyword_invitations_misread(text)])
        for text in texts
        if keyword_invitations_misread(text)
    ]
    # then
    assert misread == []
    invited = {i.word for text in texts for i in keyword_invitations(text)}
    assert {"STOP", "START", "YES", "OUI"} <= invited


@pytest.mark.parametrize("language", ["fr", "en"])
def test_keyword_replies_and_notices_invite_only_opt_outs_to_opt_out(
    settings, language
):
    """The SMS Liaison writes itself, rendered: STOP only to stop."""
    # given
    settings.SITE_URL = "https://lilas.example.org"
    organization = Organization(name="Clinique des Lilas", contact_email="a@b.org")
    texts = [
        keyword_reply(keyword=keyword, organization=organization, language=language)
        for keyword in Keyword
    ] + [
        confidential_notice(
            organization_name=organization.name,
            code="ABC123",
            channel=channel,
            language=language,
        ).body
        for channel in ("sms", "voice")
    ]
    # when
    invitations = [i for text in texts for i in keyword_invitations(text)]
    # then
    assert [i for i in invitations if i.misread] == []
    assert [i.word for i in invitations if i.opts_out] == ["STOP", "STOP"]
