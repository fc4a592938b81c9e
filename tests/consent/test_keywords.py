"""SMS keywords: STOP, START and HELP are honoured at once and recorded in the ledger."""

import datetime
import logging
import zoneinfo

import pytest

from clinic.services import patient_save
from consent import services
from consent.keywords import (
    RESERVED_KEYWORDS,
    Keyword,
    handling,
    keyword_classify,
    keyword_is_reserved,
    sms_keyword_handle,
)
from consent.models import ConsentEvent, ConsentState
from consent.selectors import decide
from consent.vocabulary import Outcome, Reason
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

PHONE = "+33612345678"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# A Tuesday at 10:00 in Paris, in the allowed window and no holiday.
TUESDAY_10H = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
STOP_TEXTS = [
    "STOP",
    "stop",
    "  Stop  ",
    "STOP.",
    "Stop!",
    "STOPALL",
    "stop all",
    "End",
    "CANCEL",
    "unsubscribe",
    "Quit",
    "REVOKE",
    "OPT OUT",
    "opt  out",
    "Opt-Out",
    "OPTOUT",
    "ARRET",
    "ARRÊT",
    "arrêt !",
    "\tArret.\n",
]
NOT_KEYWORDS = [
    "stop by tomorrow",
    "YES",
    "C",
    "",
    "   ",
    "Please stop",
    "STOPP",
    "Start the treatment",
]


def patient_at(organization, phone=PHONE, **kwargs):
    """A saved patient whose derived phone fields are set, as in production."""
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone=phone, **kwargs)
    )


def sms_states(patient):
    return {
        state.scope: state.granted
        for state in ConsentState.objects.filter(patient=patient, channel="sms")
    }


def marketing_opt_in(patient, days_ago=10):
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=days_ago),
    )


def keyword(organization, text, at=TUESDAY_10H, number=PHONE):
    return sms_keyword_handle(
        organization=organization, from_number=number, text=text, received_at=at
    )


@pytest.mark.parametrize("text", STOP_TEXTS)
def test_stop_words_are_classified_whatever_the_case_padding_or_accents(text):
    """Every CTIA, FCC and French stop word is STOP as a whole message."""
    assert keyword_classify(text) == Keyword.STOP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("START", Keyword.START),
        (" unstop ", Keyword.START),
        ("Start!", Keyword.START),
        ("HELP", Keyword.HELP),
        ("aide", Keyword.HELP),
        ("Info.", Keyword.HELP),
    ],
)
def test_start_and_help_words_are_classified(text, expected):
    """START/UNSTOP resume, HELP/AIDE/INFO ask for help."""
    assert keyword_classify(text) == expected


@pytest.mark.parametrize("text", NOT_KEYWORDS)
def test_other_messages_are_not_keywords(text):
    """Only a whole message is a keyword; YES stays free for reminders."""
    assert keyword_classify(text) is None


def test_reserved_keywords_cover_every_word_and_not_yes():
    """Later features can check their reply words against the reserved set."""
    assert {"STOP", "ARRET", "OPT OUT", "START", "UNSTOP", "HELP", "AIDE"} <= (
        RESERVED_KEYWORDS
    )
    assert keyword_is_reserved("Arrêt !")
    assert not keyword_is_reserved("YES")
    assert not keyword_is_reserved("C")


@pytest.mark.parametrize("text", NOT_KEYWORDS)
def test_other_messages_are_left_to_the_caller(organization, text):
    """A message that is no keyword returns None and writes nothing."""
    # given
    patient_at(organization)
    # when
    result = keyword(organization, text)
    # then
    assert result is None
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("text", STOP_TEXTS)
def test_stop_withdraws_sms_for_every_patient_at_the_number(organization, text):
    """STOP withdraws care, campaign and feedback SMS of the whole family, once."""
    # given
    parent = patient_at(organization, preferred_language="en")
    child = patient_at(organization)
    # when
    result = keyword(organization, text)
    # then
    assert result.keyword == Keyword.STOP
    assert set(result.patient_ids) == {parent.pk, child.pk}
    assert isinstance(result.reply, str)
    assert result.reply
    events = ConsentEvent.objects.order_by("patient_id", "purpose")
    assert list(result.events) == list(ConsentEvent.objects.order_by("id"))
    assert [(e.patient_id, e.purpose) for e in events] == [
        (patient.pk, purpose)
        for patient in sorted([parent, child], key=lambda p: p.pk)
        for purpose in ("care", "feedback", "marketing")
    ]
    for event in events:
        assert event.action == ConsentEvent.Action.WITHDRAWN
        assert event.channel == "sms"
        assert event.source == "sms-keyword"
        assert event.actor_label == "SMS keyword"
        assert event.occurred_at == TUESDAY_10H
        assert event.evidence["keyword"] in {
            "STOP",
            "STOPALL",
            "END",
            "CANCEL",
            "UNSUBSCRIBE",
            "QUIT",
            "REVOKE",
            "OPT OUT",
            "ARRET",
        }
    for patient in (parent, child):
        assert sms_states(patient) == {
            "purpose:care": False,
            "purpose:marketing": False,
            "purpose:feedback": False,
        }


def test_stop_keeps_security_codes_and_other_channels(organization):
    """After STOP, security SMS and care email still go; care SMS does not."""
    # given
    patient = patient_at(organization)
    care = TopicFactory(organization=organization, slug="reminders")
    codes = TopicFactory(organization=organization, slug="codes", purpose="security")
    preferences = services.preferences_get(patient=patient)
    preferences.phone_verified_at = TUESDAY_10H - datetime.timedelta(days=30)
    preferences.save()
    # when
    keyword(organization, "STOP", at=TUESDAY_10H - datetime.timedelta(hours=1))
    # then
    assert decide(patient, care, "sms", TUESDAY_10H).reason == Reason.OPTED_OUT
    assert decide(patient, care, "email", TUESDAY_10H).outcome == Outcome.ALLOW
    assert decide(patient, codes, "sms", TUESDAY_10H).outcome == Outcome.ALLOW
    assert not ConsentEvent.objects.filter(purpose="security").exists()
    assert not ConsentState.objects.exclude(channel="sms").exists()


def test_stop_records_what_was_allowed_before(organization):
    """The ledger keeps what STOP switched off, so START can give back only that."""
    # given
    opted_in = patient_at(organization)
    marketing_opt_in(opted_in)
    services.consent_withdraw(
        patient=opted_in,
        purpose="feedback",
        channel="sms",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=5),
    )
    never_asked = patient_at(organization)
    # when
    keyword(organization, "STOP")
    # then
    priors = {
        e.patient_id: e.evidence["prior"]
        for e in ConsentEvent.objects.filter(source="sms-keyword")
    }
    assert priors[opted_in.pk] == {"care": True, "marketing": True, "feedback": False}
    assert priors[never_asked.pk] == {
        "care": True,
        "marketing": False,
        "feedback": True,
    }


def test_start_restores_care_and_feedback_but_no_campaigns_never_opted_in(
    organization,
):
    """START gives back care and feedback SMS and creates no campaign opt-in."""
    # given
    patient = patient_at(organization)
    keyword(organization, "STOP", at=TUESDAY_10H - datetime.timedelta(days=1))
    # when
    result = keyword(organization, "start")
    # then
    assert result.keyword == Keyword.START
    assert sorted(e.purpose for e in result.events) == ["care", "feedback"]
    assert all(e.granted and e.channel == "sms" for e in result.events)
    assert all(e.source == "sms-keyword" for e in result.events)
    assert sms_states(patient) == {
        "purpose:care": True,
        "purpose:marketing": False,
        "purpose:feedback": True,
    }


def test_start_restores_campaigns_opted_in_before_stop(organization):
    """A patient who had opted in to campaigns gets them back with START."""
    # given
    patient = patient_at(organization)
    marketing_opt_in(patient)
    keyword(organization, "STOP", at=TUESDAY_10H - datetime.timedelta(days=2))
    # when
    result = keyword(organization, "UNSTOP")
    # then
    assert sorted(e.purpose for e in result.events) == ["care", "feedback", "marketing"]
    assert sms_states(patient)["purpose:marketing"] is True
    newsletter = TopicFactory(
        organization=organization, slug="newsletter", purpose="marketing"
    )
    after = TUESDAY_10H + datetime.timedelta(minutes=5)
    assert decide(patient, newsletter, "sms", after).outcome == Outcome.ALLOW


def test_start_cites_the_stop_whose_campaign_opt_in_it_restores(organization):
    """The campaign grant written by START points at the STOP that recorded it."""
    # given
    patient = patient_at(organization)
    marketing_opt_in(patient)
    stop = keyword(organization, "STOP", at=TUESDAY_10H - datetime.timedelta(days=2))
    # when
    result = keyword(organization, "START")
    # then
    (grant,) = [e for e in result.events if e.purpose == "marketing"]
    stop_marketing = next(e for e in stop.events if e.purpose == "marketing")
    assert grant.evidence == {
        "keyword": "START",
        "restores": str(stop_marketing.public_id),
    }
    assert grant.patient == patient


def test_start_does_not_override_a_campaign_choice_made_after_stop(organization):
    """A campaign withdrawal in the portal after STOP survives START."""
    # given
    patient = patient_at(organization)
    marketing_opt_in(patient)
    keyword(organization, "STOP", at=TUESDAY_10H - datetime.timedelta(days=2))
    services.consent_withdraw(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=1),
    )
    # when
    result = keyword(organization, "START")
    # then
    assert sorted(e.purpose for e in result.events) == ["care", "feedback"]


def test_a_second_stop_does_not_forget_the_campaign_opt_in(organization):
    """STOP, STOP, START restores what the first STOP found."""
    # given
    patient = patient_at(organization)
    marketing_opt_in(patient)
    keyword(organization, "STOP", at=TUESDAY_10H - datetime.timedelta(days=2))
    keyword(organization, "ARRET", at=TUESDAY_10H - datetime.timedelta(days=1))
    # when
    keyword(organization, "START")
    # then
    assert sms_states(patient)["purpose:marketing"] is True


def test_start_without_stop_creates_no_campaign_opt_in(organization):
    """START from a patient who never sent STOP grants no campaigns."""
    # given
    patient = patient_at(organization)
    # when
    result = keyword(organization, "START")
    # then
    assert sorted(e.purpose for e in result.events) == ["care", "feedback"]
    assert "purpose:marketing" not in sms_states(patient)


def test_help_names_the_organization_and_its_contact_and_writes_nothing(
    organization,
):
    """HELP answers with who we are, how to reach us and how to stop."""
    # given
    organization.contact_phone = "+33140000000"
    organization.contact_email = "accueil@lilas.example.org"
    organization.save()
    patient_at(organization, preferred_language="en")
    # when
    result = keyword(organization, "HELP")
    # then
    assert result.keyword == Keyword.HELP
    assert result.events == []
    assert result.reply == (
        "Clinique des Lilas: for help, contact us at +33 1 40 00 00 00 / "
        "accueil@lilas.example.org. Reply STOP to stop SMS."
    )
    assert not ConsentEvent.objects.exists()
    assert not ConsentState.objects.exists()


def test_help_without_a_contact_still_says_how_to_stop(organization):
    """An organization without contact details still answers HELP."""
    # given
    organization.contact_email = ""
    organization.save()
    patient_at(organization, preferred_language="en")
    # when
    result = keyword(organization, "aide")
    # then
    assert result.reply == "Clinique des Lilas: Reply STOP to stop SMS."


def test_stop_reply_is_one_message_in_the_first_patients_language(organization):
    """One confirmation for the whole family, in the first patient's language."""
    # given
    patient_at(organization, preferred_language="en")
    patient_at(organization, preferred_language="fr")
    # when
    result = keyword(organization, "STOP")
    # then
    assert result.reply == (
        "Clinique des Lilas: you will no longer receive SMS from us, except "
        "security codes. Reply START to resume."
    )


@pytest.mark.parametrize(
    ("text", "french"),
    [
        ("STOP", "vous ne recevrez plus nos SMS"),
        ("START", "vous recevrez"),
        ("AIDE", "Répondez STOP"),
    ],
)
def test_french_patients_get_their_reply_in_french(organization, text, french):
    # given
    patient_at(organization, preferred_language="fr")
    # when
    result = keyword(organization, text)
    # then
    assert result.reply.startswith("Clinique des Lilas : ")
    assert french in result.reply


@pytest.mark.parametrize(
    "number",
    [
        "+33699999999",  # valid, no patient
        "not a number",
        "+33",
        "0612345678",  # national format, not E.164
        "",
        None,
        "+3361234567890123456",
    ],
)
def test_unknown_or_malformed_number_writes_nothing_and_logs_no_number(
    organization, caplog, number
):
    """A keyword nobody can be matched to is a logged no-op without personal data."""
    # given
    patient_at(organization)
    caplog.set_level(logging.INFO, logger="consent.keywords")
    # when
    result = keyword(organization, "Arrêt", number=number)
    # then
    assert result.keyword == Keyword.STOP
    assert result.patient_ids == ()
    assert result.events == []
    assert result.reply is None
    assert not ConsentEvent.objects.exists()
    assert caplog.records
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    secrets = (number, "699999999", "612345678", "Arrêt") if number else ("Arrêt",)
    for secret in secrets:
        assert secret not in caplog.text


def test_another_organizations_patient_at_the_same_number_is_untouched(
    organization, other_organization
):
    """STOP to one clinic says nothing about another clinic's messages."""
    # given
    ours = patient_at(organization)
    theirs = patient_at(other_organization)
    # when
    result = keyword(organization, "STOP")
    # then
    assert result.patient_ids == (ours.pk,)
    assert not ConsentEvent.objects.filter(patient=theirs).exists()
    assert sms_states(theirs) == {}


def test_erased_patients_are_not_matched(organization):
    """A patient whose identity was erased is not found by their old number."""
    # given
    erased = patient_at(organization)
    erased.erased_at = TUESDAY_10H - datetime.timedelta(days=1)
    erased.save()
    # when
    result = keyword(organization, "STOP")
    # then
    assert result.patient_ids == ()
    assert not ConsentEvent.objects.exists()


def test_a_failure_midway_writes_nothing(organization, monkeypatch):
    """STOP for a family is all or nothing: no patient is half withdrawn."""
    # given
    patient_at(organization)
    patient_at(organization)
    calls = []
    real_record = handling.consent_record

    def failing_on_the_second_patient(**kwargs):
        calls.append(kwargs["patient"].pk)
        if len(set(calls)) > 1:
            raise RuntimeError("database went away")
        return real_record(**kwargs)

    monkeypatch.setattr(handling, "consent_record", failing_on_the_second_patient)
    # when
    with pytest.raises(RuntimeError):
        keyword(organization, "STOP")
    # then
    assert not ConsentEvent.objects.exists()
    assert not ConsentState.objects.exists()
