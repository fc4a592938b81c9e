"""SMS keywords: STOP, START and HELP in English and French, honoured at once.

These words belong to consent. Any feature that reads SMS replies (appointment
confirmations, surveys) must call ``sms_keyword_handle`` first and must never
give a word of ``RESERVED_KEYWORDS`` another meaning.
"""

from __future__ import annotations

import datetime
import enum
import logging
import unicodedata
from dataclasses import dataclass, field

import phonenumbers

from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from clinic.models import Organization, Patient
from consent.models import ALL_CHANNELS, ConsentEvent, ConsentState, scope_key
from consent.services import consent_record
from consent.vocabulary import Channel, Purpose, Source

logger = logging.getLogger(__name__)


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


# Keys are normalised forms (``keyword_normalize``), values the word recorded
# in the ledger. Sources: CTIA Messaging Principles and Best Practices; FCC
# 24-24 (2025 revocation rule); ARRET, the French operators' STOP.
_STOP_WORDS = {
    "STOP": "STOP",
    "STOPALL": "STOPALL",
    "STOP ALL": "STOPALL",
    "END": "END",
    "CANCEL": "CANCEL",
    "UNSUBSCRIBE": "UNSUBSCRIBE",
    "QUIT": "QUIT",
    "REVOKE": "REVOKE",
    "OPT OUT": "OPT OUT",
    "OPTOUT": "OPT OUT",
    "ARRET": "ARRET",
}
# YES is deliberately absent: appointment reminders use it for "I will come".
_START_WORDS = {"START": "START", "UNSTOP": "UNSTOP"}
_HELP_WORDS = {"HELP": "HELP", "AIDE": "AIDE", "INFO": "INFO"}

_WORDS: dict[str, tuple[Keyword, str]] = {
    **{key: (Keyword.STOP, word) for key, word in _STOP_WORDS.items()},
    **{key: (Keyword.START, word) for key, word in _START_WORDS.items()},
    **{key: (Keyword.HELP, word) for key, word in _HELP_WORDS.items()},
}

#: Every keyword, in the form ``keyword_normalize`` gives.
RESERVED_KEYWORDS: frozenset[str] = frozenset(_WORDS)

#: What STOP withdraws and START restores: every purpose but security.
KEYWORD_PURPOSES = (Purpose.CARE, Purpose.MARKETING, Purpose.FEEDBACK)

_SEPARATORS = str.maketrans(dict.fromkeys("-_\u2010\u2011\u2012\u2013\u2014", " "))
_TRAILING = ".! "


def keyword_normalize(text: str) -> str:
    """The form a whole message is matched by: "  Opt-out ! " → "OPT OUT".

    Upper case, accents and invisible format characters removed (ARRÊT →
    ARRET), hyphens and underscores read as spaces, runs of whitespace
    collapsed to one space, trailing "." and "!" dropped. Pure.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(
        c
        for c in decomposed
        if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )
    return " ".join(plain.translate(_SEPARATORS).upper().split()).rstrip(_TRAILING)


def keyword_is_reserved(text: str) -> bool:
    """Whether ``text`` as a whole message is a consent keyword. Pure."""
    return keyword_normalize(text) in RESERVED_KEYWORDS


def keyword_classify(text: str) -> Keyword | None:
    """The keyword the whole message is, or None for any other message. Pure."""
    found = _WORDS.get(keyword_normalize(text))
    return found[0] if found else None


@dataclass(frozen=True)
class KeywordResult:
    """What a keyword did: the patients it applied to, the ledger events, the reply.

    ``reply`` is None when no reply must be sent (unknown sender).
    """

    keyword: Keyword
    patient_ids: tuple[int, ...] = ()
    events: list[ConsentEvent] = field(default_factory=list)
    reply: str | None = None


def _number_ref(number: str) -> str:
    # A keyed hash: a plain hash of a phone number is reversed by enumeration.
    return salted_hmac("consent.keywords.log", number).hexdigest()[:10]


def _parse_e164(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _latest_sms_states(patient_ids: list[int]) -> dict[tuple[int, str], ConsentState]:
    """(patient id, purpose) → the purpose-level state in force for SMS.

    As ``decide`` reads it: the latest of the ``sms`` and ``*`` states wins.
    """
    scopes = {scope_key(purpose=p): p.value for p in KEYWORD_PURPOSES}
    latest: dict[tuple[int, str], ConsentState] = {}
    for state in ConsentState.objects.filter(
        patient_id__in=patient_ids,
        scope__in=list(scopes),
        channel__in=[Channel.SMS, ALL_CHANNELS],
    ).select_related("event"):
        key = (state.patient_id, scopes[state.scope])
        best = latest.get(key)
        if best is None or (state.occurred_at, state.event_id) > (
            best.occurred_at,
            best.event_id,
        ):
            latest[key] = state
    return latest


def _is_keyword_stop(state: ConsentState) -> bool:
    return not state.granted and state.event.source == Source.SMS_KEYWORD


def _was_allowed(state: ConsentState | None, purpose: str) -> bool:
    """Whether SMS of ``purpose`` was allowed before any STOP now in force.

    Without a state, care and feedback are allowed and marketing is not. A STOP
    in force carries its own record forward, so STOP, STOP, START still
    restores what the first STOP found.
    """
    if state is None:
        return purpose != Purpose.MARKETING
    if _is_keyword_stop(state):
        return state.event.evidence.get("prior", {}).get(purpose) is True
    return state.granted


def _record(
    patient: Patient,
    *,
    granted: bool,
    purpose: str,
    evidence: dict,
    at: datetime.datetime,
) -> ConsentEvent:
    return consent_record(
        patient=patient,
        granted=granted,
        purpose=purpose,
        channel=Channel.SMS,
        source=Source.SMS_KEYWORD,
        evidence=evidence,
        actor_label="SMS keyword",
        occurred_at=at,
    )


def _stop(
    patients: list[Patient], word: str, at: datetime.datetime
) -> list[ConsentEvent]:
    latest = _latest_sms_states([p.pk for p in patients])
    events = []
    for patient in patients:
        prior = {
            p.value: _was_allowed(latest.get((patient.pk, p.value)), p.value)
            for p in KEYWORD_PURPOSES
        }
        events += [
            _record(
                patient,
                granted=False,
                purpose=purpose,
                evidence={"keyword": word, "prior": prior},
                at=at,
            )
            for purpose in KEYWORD_PURPOSES
        ]
    return events


def _start(
    patients: list[Patient], word: str, at: datetime.datetime
) -> list[ConsentEvent]:
    latest = _latest_sms_states([p.pk for p in patients])
    events = []
    for patient in patients:
        grants: list[tuple[str, dict]] = [
            (Purpose.CARE, {"keyword": word}),
            (Purpose.FEEDBACK, {"keyword": word}),
        ]
        # Campaigns need an explicit opt-in (GDPR art. 7): START only gives
        # back one the STOP in force switched off, never creates one, and
        # never overrides a campaign choice made after that STOP.
        marketing = latest.get((patient.pk, Purpose.MARKETING.value))
        if (
            marketing is not None
            and _is_keyword_stop(marketing)
            and _was_allowed(marketing, Purpose.MARKETING.value)
        ):
            evidence = {"keyword": word, "restores": str(marketing.event.public_id)}
            grants.append((Purpose.MARKETING, evidence))
        events += [
            _record(patient, granted=True, purpose=purpose, evidence=proof, at=at)
            for purpose, proof in grants
        ]
    return events


def _contact(organization: Organization) -> str:
    parts = []
    if organization.contact_phone:
        parts.append(organization.contact_phone.as_international)
    if organization.contact_email:
        parts.append(organization.contact_email)
    return " / ".join(parts)


def keyword_reply(
    *, keyword: Keyword, organization: Organization, language: str
) -> str:
    """The one SMS answering ``keyword``, in ``language``. Pure but for translation."""
    name = organization.name
    with translation.override(language):
        if keyword == Keyword.STOP:
            return gettext(
                "%(organization)s: you will no longer receive SMS from us, "
                "except security codes. Reply START to resume."
            ) % {"organization": name}
        if keyword == Keyword.START:
            return gettext(
                "%(organization)s: you will receive our SMS again. "
                "Reply STOP to stop, HELP for help."
            ) % {"organization": name}
        contact = _contact(organization)
        if contact:
            return gettext(
                "%(organization)s: for help, contact us at %(contact)s. "
                "Reply STOP to stop SMS."
            ) % {"organization": name, "contact": contact}
        return gettext("%(organization)s: Reply STOP to stop SMS.") % {
            "organization": name
        }


def sms_keyword_handle(
    *,
    organization: Organization,
    from_number: str,
    text: str,
    received_at: datetime.datetime | None = None,
) -> KeywordResult | None:
    """Honour an inbound SMS if it is a consent keyword.

    Returns None when ``text`` is no keyword (the caller treats it as an
    ordinary message), else a KeywordResult. STOP withdraws care, campaign and
    feedback SMS (never security codes) and START restores them, for every
    patient of ``organization`` with this phone number, in one transaction;
    HELP writes nothing. The result carries one reply for the whole keyword.

    A malformed number or one that matches no patient writes nothing, logs a
    warning (never the number or the text) and returns a result without reply.
    Never raises for bad input.
    """
    keyword = keyword_classify(text) if isinstance(text, str) else None
    if keyword is None:
        return None
    word = _WORDS[keyword_normalize(text)][1]
    number = _parse_e164(from_number) if isinstance(from_number, str) else None
    if number is None:
        logger.warning(
            "SMS keyword %s from a malformed number for organization %s: ignored",
            keyword.value,
            organization.pk,
        )
        return KeywordResult(keyword=keyword)
    patients = list(
        Patient.objects.for_organization(organization)
        .filter(phone=number, erased_at__isnull=True)
        .order_by("pk")
    )
    if not patients:
        logger.warning(
            "SMS keyword %s from an unknown number (ref %s) for organization %s: "
            "ignored",
            keyword.value,
            _number_ref(number),
            organization.pk,
        )
        return KeywordResult(keyword=keyword)
    at = received_at or timezone.now()
    with transaction.atomic():
        if keyword == Keyword.STOP:
            events = _stop(patients, word, at)
        elif keyword == Keyword.START:
            events = _start(patients, word, at)
        else:
            events = []
    language = patients[0].preferred_language or organization.default_language
    return KeywordResult(
        keyword=keyword,
        patient_ids=tuple(p.pk for p in patients),
        events=events,
        reply=keyword_reply(
            keyword=keyword, organization=organization, language=language
        ),
    )
