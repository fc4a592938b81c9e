"""The keyword grammar: one keyword, then only channel words and politeness.

Tables of what patients write. Every opt-out variant withdraws SMS; every
look-alike sentence reaches a person instead (reply handlers, conversations).
"""

import datetime
import zoneinfo

import pytest

from django.core.exceptions import ImproperlyConfigured

from clinic.services import patient_save
from consent.keywords import (
    RESERVED_KEYWORDS,
    Keyword,
    keyword_answers_check,
    keyword_classify,
    keyword_is_reserved,
    keyword_normalize,
    keyword_parse,
    keyword_reply,
    sms_keyword_handle,
)
from consent.models import ConsentEvent
from messaging.inbound import inbound_sms_receive
from messaging.models import Message, SenderIdentity
from messaging.rendering import sms_segments, sms_text
from outreach.reminders.answers import ANSWERS
from outreach.waitlist.services import YES_WORDS
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

PHONE = "+33612345678"
CLINIC_NUMBER = "+33700000001"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
TUESDAY_10H = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)

# (what the patient wrote, the word the ledger records)
OPT_OUTS = [
    # French: STOP followed by a word, as operators and advertisers taught.
    ("STOP SMS", "STOP"),
    ("Stop svp", "STOP"),
    ("STOP merci", "STOP"),
    ("STOP PUB", "STOP"),
    ("Stop pubs merci", "STOP"),
    ("STOP PUBLICITÉ", "STOP"),
    ("STOP TEXTO", "STOP"),
    ("stop textos svp", "STOP"),
    ("Stop s'il vous plaît", "STOP"),
    ("STOP STP", "STOP"),
    ("stop tout", "STOP"),
    ("STOP tous les SMS", "STOP"),
    ("stop mes rappels", "STOP"),
    ("STOP les SMS, merci", "STOP"),
    ("ARRÊT", "ARRET"),
    ("arret sms", "ARRET"),
    ("Arrêt des SMS", "ARRET"),
    ("ARRET SVP", "ARRET"),
    ("arrêt, merci beaucoup", "ARRET"),
    ("Désinscription svp", "DESINSCRIRE"),
    ("désabonnement", "DESABONNER"),
    # English: the CTIA, FCC and Twilio words, with channel or politeness.
    ("STOP ALL", "STOPALL"),
    ("STOPALL", "STOPALL"),
    ("UNSUBSCRIBE", "UNSUBSCRIBE"),
    ("Unsubscribe me please", "UNSUBSCRIBE"),
    ("CANCEL", "CANCEL"),
    ("Cancel texts", "CANCEL"),
    ("cancel all messages", "CANCEL"),
    ("END", "END"),
    ("End SMS", "END"),
    ("QUIT", "QUIT"),
    ("quit please", "QUIT"),
    ("REVOKE", "REVOKE"),
    ("OPTOUT", "OPT OUT"),
    ("opt-out", "OPT OUT"),
    ("Opt out please", "OPT OUT"),
    ("opt me out", "OPT OUT"),
    ("REMOVE ME", "REMOVE"),
    ("Stop reminders please", "STOP"),
    ("stop, thank you", "STOP"),
    ("STOP thx", "STOP"),
    ("stop plz", "STOP"),
    ("STOP NOTIFICATIONS", "STOP"),
    # Case, punctuation, quotes, emoji and invisible characters.
    ("stop!!", "STOP"),
    ("stop.", "STOP"),
    ("Stop...", "STOP"),
    ("stop…", "STOP"),
    ("« STOP »", "STOP"),
    ('"Stop"', "STOP"),
    ("STOP 🙏", "STOP"),
    ("STOP ❤️", "STOP"),
    ("st\u200bop", "STOP"),
    ("\ufeffSTOP", "STOP"),
    ("ＳＴＯＰ", "STOP"),
    ("Stop_SMS", "STOP"),
    ("STOP-SMS", "STOP"),
    ("STOP STOP STOP", "STOP"),
    ("Stop arrêt", "STOP"),
]
LOOK_ALIKES = [
    # A keyword as a verb in a sentence: a person answers.
    "Can I stop by tomorrow?",
    "stop by at 5",
    "please don't stop my reminders",
    "ne stoppez pas mes rappels",
    "j'arrête le traitement",
    "I want to cancel my appointment",
    "cancel my 3pm",
    "Cancel it",
    "cancel tomorrow",
    "end of the week is fine",
    "The end",
    "End date is Friday",
    "quit smoking program?",
    "I quit my job",
    "stopped bleeding",
    "Stop the pain medication?",
    "We need to stop at the pharmacy",
    "stop calling me",
    "Remove the stitches?",
    "Remove",
    "opt out of the survey only",
    "unsubscribed already?",
    # Look-alike words and other verb forms.
    "STOPPER",
    "STOPP",
    "Stoppez",
    "Arrêté.",
    "Arrêtez le médicament ?",
    "Cancelled",
    "Cancellation",
    # French sentences built on ARRÊT.
    "arrêt de travail",
    "Arrêt maladie",
    "arrêt du traitement",
    # A word before the keyword, a question, another channel.
    "Please stop",
    "svp STOP",
    "Merci, stop",
    "Stop?",
    "STOP ?",
    "STOP EMAIL",
    "stop les appels",
    # An everyday keyword with a bare "all": appointments, perhaps.
    "Cancel all",
    "END ALL",
    # Keywords of two kinds, an unfinished determiner.
    "STOP START",
    "STOP LES",
    # Reminder and waitlist answers stay theirs.
    "ANNULER",
    "A",
    "C",
    "OUI",
    "YES",
    "Non merci",
    "Help me",
    "Start the treatment",
]
OTHER_KEYWORDS = [
    ("START", Keyword.START),
    ("START SMS", Keyword.START),
    ("start please", Keyword.START),
    ("UNSTOP merci", Keyword.START),
    ("Start!!", Keyword.START),
    ("start all", Keyword.START),
    ("HELP svp", Keyword.HELP),
    ("Aide ?", Keyword.HELP),
    ("Info?", Keyword.HELP),
    ("aide, merci", Keyword.HELP),
]


def test_the_tables_hold_forty_variants_each_way():
    """The issue asks for at least forty of each, in French and English."""
    assert len(OPT_OUTS) >= 40
    assert len(LOOK_ALIKES) >= 40
    assert not {text for text, _ in OPT_OUTS} & set(LOOK_ALIKES)


@pytest.mark.parametrize(("text", "word"), OPT_OUTS)
def test_opt_out_variants_are_stop(text, word):
    """A keyword followed by channel words or politeness is an opt-out."""
    match = keyword_parse(text)
    assert match is not None
    assert (match.keyword, match.word) == (Keyword.STOP, word)
    assert keyword_is_reserved(text)


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_sentences_are_no_keyword(text):
    """A sentence in which a keyword is a verb, or a look-alike word, is not."""
    assert keyword_parse(text) is None
    assert keyword_classify(text) is None
    assert not keyword_is_reserved(text)


@pytest.mark.parametrize(("text", "keyword"), OTHER_KEYWORDS)
def test_start_and_help_follow_the_same_grammar(text, keyword):
    """START and HELP take channel words and politeness too; HELP a "?"."""
    assert keyword_classify(text) == keyword


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("  « Opt-out ! » 🙏", "OPT OUT"),
        ("Arrêt\u200b_SMS...", "ARRET SMS"),
        ("Stop ?", "STOP ?"),
        ("s'il vous plaît", "S IL VOUS PLAIT"),
        ("oui !", "OUI"),
    ],
)
def test_normalisation(text, normalised):
    """Case, accents, invisible characters, punctuation and emoji do not count;
    a question mark does."""
    assert keyword_normalize(text) == normalised


def test_every_reserved_keyword_is_a_keyword_by_itself():
    """RESERVED_KEYWORDS lists the keyword words; each is a whole keyword."""
    assert {"STOP", "ARRET", "OPT OUT", "START", "UNSTOP", "HELP", "AIDE"} <= (
        RESERVED_KEYWORDS
    )
    assert all(keyword_is_reserved(word) for word in RESERVED_KEYWORDS)


def test_reminder_and_waitlist_answers_are_no_keywords():
    """The answers other features read are free: the import-time check passes."""
    # when / then: no exception
    keyword_answers_check(ANSWERS, feature="reminder")
    keyword_answers_check(YES_WORDS, feature="waitlist")
    assert not any(keyword_is_reserved(word) for word in [*ANSWERS, *YES_WORDS])


def test_an_answer_word_that_is_a_keyword_is_refused():
    """A feature that would read "Cancel texts" as an answer cannot load."""
    with pytest.raises(ImproperlyConfigured, match="Cancel texts, STOP"):
        keyword_answers_check(["C", "STOP", "Cancel texts"], feature="test")


def _patient(organization, **fields):
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone=PHONE, **fields)
    )


@pytest.mark.django_db
def test_stop_pub_withdraws_what_stop_withdraws_and_keeps_the_words(organization):
    """STOP PUB is no campaign-only opt-out: care, campaigns and feedback SMS
    stop, and the ledger records what the patient wrote."""
    # given
    patient = _patient(organization)
    # when
    result = sms_keyword_handle(
        organization=organization,
        from_number=PHONE,
        text="Stop pub !",
        received_at=TUESDAY_10H,
    )
    # then
    assert result.keyword == Keyword.STOP
    events = ConsentEvent.objects.filter(patient=patient).order_by("purpose")
    assert [(e.purpose, e.channel, e.granted) for e in events] == [
        ("care", "sms", False),
        ("feedback", "sms", False),
        ("marketing", "sms", False),
    ]
    assert {e.evidence["keyword"] for e in events} == {"STOP"}
    assert {e.evidence["words"] for e in events} == {"STOP PUB"}


@pytest.mark.django_db
def test_a_bare_keyword_records_no_words(organization):
    """The evidence keeps the whole message only when it said more."""
    # given
    _patient(organization)
    # when
    result = sms_keyword_handle(
        organization=organization, from_number=PHONE, text="Stop!", received_at=None
    )
    # then
    assert all(e.evidence.keys() == {"keyword", "prior"} for e in result.events)


@pytest.fixture
def routed(organization):
    """A clinic reached at its own number, with a patient and a care topic."""
    SenderIdentity.objects.create(
        organization=organization, provider="twilio", phone_number=CLINIC_NUMBER
    )
    TopicFactory(organization=organization, slug="reminders")
    return _patient(organization, preferred_language="fr")


def _receive(text, message_id):
    return inbound_sms_receive(
        provider="twilio",
        to_number=CLINIC_NUMBER,
        from_number=PHONE,
        text=text,
        provider_message_id=message_id,
    ).reply


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text", ["STOP SMS", "Stop svp", "« ARRÊT »", "Opt out please", "STOP 🙏"]
)
def test_an_opt_out_variant_received_by_sms_withdraws_and_is_answered(routed, text):
    """End to end: the variant reaches consent, not a conversation."""
    # when
    reply = _receive(text, "SMvariant")
    # then
    assert reply.startswith("Clinique des Lilas : vous ne recevrez plus nos SMS")
    assert set(
        ConsentEvent.objects.filter(
            patient=routed, channel="sms", source="sms-keyword", action="withdrawn"
        ).values_list("purpose", flat=True)
    ) == {"care", "marketing", "feedback"}
    assert not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        "Can I stop by tomorrow?",
        "ne stoppez pas mes rappels",
        "I want to cancel my appointment",
        "arrêt de travail",
        "Please stop",
    ],
)
def test_a_look_alike_received_by_sms_joins_the_conversation(routed, text):
    """End to end: no ledger event, no reply; a person reads the message."""
    # when
    reply = _receive(text, "SMlookalike")
    # then
    assert reply is None
    assert not ConsentEvent.objects.exists()
    message = Message.objects.get()
    assert (message.patient, message.direction, message.body) == (routed, "in", text)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("keyword", list(Keyword))
def test_keyword_replies_fit_one_sms_segment_once_plain(
    organization, keyword, language
):
    """Each required reply fits one 160-character segment in GSM-7."""
    # given
    organization.contact_phone = "+33140000000"
    organization.contact_email = "accueil@lilas.example.org"
    # when
    reply = keyword_reply(keyword=keyword, organization=organization, language=language)
    # then
    assert sms_segments(sms_text(reply))["segments"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_stop_reply_is_one_segment_as_sent(organization, language):
    """The STOP confirmation, the one every opt-out gets, is one segment raw."""
    reply = keyword_reply(
        keyword=Keyword.STOP, organization=organization, language=language
    )
    assert sms_segments(reply)["segments"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["START", "AIDE"])
def test_a_french_keyword_reply_leaves_in_one_gsm_segment(routed, text):
    """The reply as the webhook sends it: French typography (’) would make it
    UCS-2, two or three segments; it leaves plain, in one."""
    # given
    routed.organization.contact_phone = "+33140000000"
    routed.organization.save()
    # when
    reply = _receive(text, f"SMsegments{text}")
    # then
    assert "’" not in reply
    assert sms_segments(reply)["encoding"] == "GSM-7"
    assert sms_segments(reply)["segments"] == 1
