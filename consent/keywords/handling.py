"""Honouring a keyword: the ledger events STOP and START write, and the reply."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

import phonenumbers

from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from clinic.models import Organization, Patient
from consent.keywords.grammar import (
    Keyword,
    KeywordMatch,
    keyword_parse,
)
from consent.models import ALL_CHANNELS, ConsentEvent, ConsentState, scope_key
from consent.services import consent_record
from consent.vocabulary import Channel, Purpose, Source

logger = logging.getLogger(__name__)

#: What STOP withdraws and START restores: every purpose but security.
KEYWORD_PURPOSES = (Purpose.CARE, Purpose.MARKETING, Purpose.FEEDBACK)


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


def _said(match: KeywordMatch) -> dict[str, str]:
    """The evidence of what was sent: the recorded word, and the whole
    message (normalised, closed vocabulary) when it said more ("STOP PUB")."""
    if match.words == match.word:
        return {"keyword": match.word}
    return {"keyword": match.word, "words": match.words}


def _stop(
    patients: list[Patient], match: KeywordMatch, at: datetime.datetime
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
                evidence={**_said(match), "prior": prior},
                at=at,
            )
            for purpose in KEYWORD_PURPOSES
        ]
    return events


def _start(
    patients: list[Patient], match: KeywordMatch, at: datetime.datetime
) -> list[ConsentEvent]:
    latest = _latest_sms_states([p.pk for p in patients])
    events = []
    for patient in patients:
        grants: list[tuple[str, dict]] = [
            (Purpose.CARE, _said(match)),
            (Purpose.FEEDBACK, _said(match)),
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
            evidence = {**_said(match), "restores": str(marketing.event.public_id)}
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
    match = keyword_parse(text)
    if match is None:
        return None
    keyword = match.keyword
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
            events = _stop(patients, match, at)
        elif keyword == Keyword.START:
            events = _start(patients, match, at)
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
