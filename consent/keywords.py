"""SMS keywords: STOP, START and HELP in English and French, honoured at once.

These words belong to consent. Any feature that reads SMS replies (appointment
confirmations, surveys) must call ``sms_keyword_handle`` first and must never
give a keyword another meaning (``keyword_is_reserved``).

The grammar (``keyword_parse``). A whole message is a keyword when, once
normalised (``keyword_normalize``: case, accents, invisible characters,
hyphens and underscores, punctuation, quotes and emoji do not count), it is

    KEYWORD ( KEYWORD | CHANNEL | POLITENESS )*

- It starts with a KEYWORD (``KEYWORD_WORDS``): "STOP", "ARRÊT", "opt-out",
  "Unsubscribe me"…; further keywords must be of the same kind ("STOP STOP",
  "STOP ARRET"; "STOP START" is no keyword).
- CHANNEL is what the patient wants stopped, resumed or explained: "SMS",
  "TEXTOS", "MESSAGES", "PUB", "RAPPELS"…, optionally after determiners
  ("les SMS", "all messages", "mes rappels"). ALL/TOUT alone ("STOP ALL",
  "STOP TOUT") only follows a keyword with no everyday meaning: "Cancel all"
  may be about appointments, so a person reads it.
- POLITENESS: "SVP", "S'il vous plaît", "STP", "MERCI", "PLEASE", "THANKS"…

Anything else is a sentence and goes on to reply handlers and conversations,
where a person answers it: "Can I stop by tomorrow?", "cancel my 3pm",
"ne stoppez pas mes rappels", "arrêt de travail", "STOP EMAIL" (SMS keywords
stop SMS; a person withdraws email), "STOPPER", "Arrêté". Decisions:

- The keyword comes first. "Please stop" or "svp STOP" is read by a person:
  a word before the keyword makes a sentence ("please stop by"), and no
  carrier reads it as a keyword either (Twilio: "STOP PLEASE" and "PLEASE
  CANCEL" do not opt out).
- A question is a sentence: "Stop?" goes to a person, except for HELP,
  which is a question by nature ("Aide ?", "Info?").
- "STOP PUB" (what French patients send to advertisers) withdraws what STOP
  withdraws, not only campaigns: when in doubt, less reaches the patient,
  the reply says what stopped and how to resume, and the ledger keeps the
  words sent (``evidence["words"]``).
- Verb forms other than the keywords themselves (STOPPER, STOPPEZ, ARRÊTEZ,
  ARRÊTÉ) are sentences: "Arrêté." answers "have you stopped the treatment?".

Sources. US: CTIA Messaging Principles and Best Practices (STOP, END, CANCEL,
UNSUBSCRIBE, QUIT honoured); FCC 24-24, 47 CFR 64.1200(a)(10) (from April
2025 "stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe" in
reply to a text revoke consent, and other words a reasonable person would
read so); Twilio's default opt-out handling (STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, REVOKE, OPTOUT, whole single-word messages only; START,
UNSTOP, YES opt back in; HELP, INFO); AWS End User Messaging's required
list adds OPT-OUT, ARRET and REMOVE (here "REMOVE ME" only). France: STOP
is the mention French operators and the CNIL expect ("STOP au 36xxx",
FFTélécoms short-code charter), ARRET the French word carriers honour
(Twilio, AWS); DÉSABONNEMENT and DÉSINSCRIPTION say "unsubscribe" and
nothing else.

Replies a text invites (``keyword_invitations``). Since carriers read
CANCEL, END, QUIT… as STOP whatever the text asked, a text may ask for such
a word only to opt out: "Reply STOP to opt out" is fine, "Reply CANCEL to
cancel" unsubscribes the patient who obeys. ``keyword_invitations_misread``
finds those; messaging refuses SMS and voice templates and saved replies
that contain one.
"""

from __future__ import annotations

import datetime
import enum
import logging
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import phonenumbers

from django.core.exceptions import ImproperlyConfigured
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


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: Each keyword, in the normalised form, with what it is and the word the
#: ledger records. YES is deliberately absent: reminders use it for "I will
#: come" (carriers read it as START, which does no harm).
KEYWORD_WORDS: dict[str, tuple[Keyword, str]] = {
    **{
        words: (Keyword.STOP, recorded)
        for words, recorded in {
            "STOP": "STOP",
            "STOPALL": "STOPALL",
            "STOP ALL": "STOPALL",
            "END": "END",
            "CANCEL": "CANCEL",
            "UNSUBSCRIBE": "UNSUBSCRIBE",
            "UNSUBSCRIBE ME": "UNSUBSCRIBE",
            "QUIT": "QUIT",
            "REVOKE": "REVOKE",
            "OPT OUT": "OPT OUT",
            "OPTOUT": "OPT OUT",
            "OPT ME OUT": "OPT OUT",
            # Not REMOVE alone: "Remove" answers "keep or remove your old
            # address?", and Twilio does not read it as STOP.
            "REMOVE ME": "REMOVE",
            "ARRET": "ARRET",
            "DESABONNER": "DESABONNER",
            "DESABONNEMENT": "DESABONNER",
            "DESINSCRIRE": "DESINSCRIRE",
            "DESINSCRIPTION": "DESINSCRIRE",
        }.items()
    },
    "START": (Keyword.START, "START"),
    "UNSTOP": (Keyword.START, "UNSTOP"),
    "HELP": (Keyword.HELP, "HELP"),
    "AIDE": (Keyword.HELP, "AIDE"),
    "INFO": (Keyword.HELP, "INFO"),
}
#: Keywords with an everyday meaning in a patient's reply ("cancel all" may
#: be appointments): a bare ALL/TOUT after them makes a sentence.
_EVERYDAY = frozenset({"CANCEL", "END", "QUIT", "REMOVE", "HELP", "AIDE", "INFO"})
_CHANNELS = _vocabulary(
    "SMS TEXTO TEXTOS TEXT TEXTS TXT MESSAGE MESSAGES MSG MSGS "
    "PUB PUBS PUBLICITE PUBLICITES PROMO PROMOS MARKETING NEWSLETTER NEWSLETTERS "
    "NOTIFICATION NOTIFICATIONS ALERT ALERTS ALERTE ALERTES "
    "RAPPEL RAPPELS REMINDER REMINDERS"
)
_ALL = frozenset({"ALL", "TOUT", "TOUS", "TOUTES"})
_DETERMINERS = _ALL | _vocabulary(
    "LES DES MES VOS TES CES LE LA DE D AUX THE MY YOUR THESE THOSE"
)
_POLITENESS = frozenset(
    {
        "SVP",
        "STP",
        "S IL VOUS PLAIT",
        "SIL VOUS PLAIT",
        "S IL TE PLAIT",
        "MERCI",
        "MERCI BEAUCOUP",
        "PLEASE",
        "PLS",
        "PLZ",
        "THANKS",
        "THANK YOU",
        "THANKYOU",
        "THX",
    }
)
_LONGEST = max(len(w.split()) for w in (*KEYWORD_WORDS, *_POLITENESS))

#: Every keyword, in the form ``keyword_normalize`` gives.
RESERVED_KEYWORDS: frozenset[str] = frozenset(KEYWORD_WORDS)

#: What STOP withdraws and START restores: every purpose but security.
KEYWORD_PURPOSES = (Purpose.CARE, Purpose.MARKETING, Purpose.FEEDBACK)

_QUESTION = "?"


def _plain(text: str) -> str:
    """Accents, invisible characters, punctuation and symbols out; "?" kept
    as a word of its own. Not upper-cased."""
    out = []
    for char in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(char)
        if category in ("Mn", "Me", "Cf"):
            # Accents, emoji variation selectors, zero-width joiners and spaces.
            continue
        if char in "?¿":
            out.append(f" {_QUESTION} ")
        elif category[0] in "PS":
            # Punctuation, quotes, apostrophes, hyphens, underscores, emoji.
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def keyword_normalize(text: str) -> str:
    """The form a whole message is matched by: "  « Opt-out ! » 🙏" → "OPT OUT".

    Upper case; accents and invisible format characters removed (ARRÊT →
    ARRET); punctuation, quotes, apostrophes, hyphens, underscores and emoji
    read as spaces, except "?", kept as a word ("Stop?" → "STOP ?"); runs of
    whitespace collapsed to one space. Pure.
    """
    return " ".join(_plain(text).upper().split())


@dataclass(frozen=True)
class KeywordMatch:
    """A message that is a keyword: its kind, the word the ledger records and
    the whole message, normalised (closed vocabulary, so no free text)."""

    keyword: Keyword
    word: str
    words: str


def _phrase(words: list[str], start: int, phrases: Collection[str]) -> int:
    """Length of the longest phrase of ``phrases`` at ``words[start:]``, or 0."""
    for size in range(min(_LONGEST, len(words) - start), 0, -1):
        if " ".join(words[start : start + size]) in phrases:
            return size
    return 0


def _head(words: list[str]) -> tuple[Keyword, str, int] | None:
    size = _phrase(words, 0, KEYWORD_WORDS)
    if not size:
        return None
    keyword, recorded = KEYWORD_WORDS[" ".join(words[:size])]
    return keyword, recorded, size


def keyword_parse(text: str) -> KeywordMatch | None:
    """The keyword the whole message ``text`` is, by the grammar of this
    module's docstring, or None for any other message. Pure."""
    if not isinstance(text, str):
        return None
    words = keyword_normalize(text).split()
    head = _head(words)
    if head is None:
        return None
    keyword, recorded, at = head
    if _QUESTION in words and keyword != Keyword.HELP:
        return None
    determiners: list[str] = []  # read since the last channel word
    while at < len(words):
        word = words[at]
        if word in _CHANNELS:
            determiners, at = [], at + 1
            continue
        if word in _DETERMINERS:
            determiners, at = [*determiners, word], at + 1
            continue
        if determiners and not _bare_all(determiners, recorded):
            return None  # "arret de travail": a determiner before no channel
        determiners = []
        if word == _QUESTION:
            at += 1
            continue
        size = _phrase(words, at, _POLITENESS)
        if not size:
            more = _head(words[at:])
            if more is None or more[0] != keyword:
                return None
            size = more[2]
        at += size
    if determiners and not _bare_all(determiners, recorded):
        return None
    return KeywordMatch(keyword=keyword, word=recorded, words=" ".join(words))


def _bare_all(determiners: list[str], recorded: str) -> bool:
    """Whether determiners that no channel word follows say "all" ("STOP
    ALL", "arrêt tout") after a keyword with no everyday meaning."""
    return recorded not in _EVERYDAY and all(d in _ALL for d in determiners)


def keyword_classify(text: str) -> Keyword | None:
    """The keyword the whole message is, or None for any other message. Pure."""
    match = keyword_parse(text)
    return match.keyword if match else None


def keyword_is_reserved(text: str) -> bool:
    """Whether ``text`` as a whole message is a consent keyword, so no other
    feature may read it as an answer. Pure."""
    return keyword_parse(text) is not None


def keyword_answers_check(answers: Iterable[str], *, feature: str) -> None:
    """Refuse, at import, a feature's SMS answer that is a consent keyword.

    Raises ImproperlyConfigured naming the words. Keywords follow a grammar
    ("STOP SMS", "Cancel texts"), so each answer is parsed, not looked up.
    """
    reserved = sorted(a for a in answers if keyword_is_reserved(a))
    if reserved:
        raise ImproperlyConfigured(
            f"Consent keywords cannot be {feature} answers: {', '.join(reserved)}"
        )


# Replies a text invites. Carriers and Twilio read CANCEL, END, QUIT… as
# STOP, so "Reply CANCEL to cancel" in a reminder would unsubscribe the
# patient who obeys it: ``keyword_invitations_misread`` finds such texts.
_INVITING = _vocabulary(
    "REPLY RESPOND ANSWER TEXT TXT SEND TYPE WRITE "
    "REPONDEZ REPONDRE REPONDS ENVOYEZ ENVOYER ENVOIE TAPEZ TAPER TAPE "
    "ECRIVEZ ECRIRE ECRIS TEXTEZ RENVOYEZ"
)
# Between the verb and the word: "Reply with STOP", "Répondez-nous par STOP".
_BEFORE_WORD = _vocabulary(
    "WITH BY BACK US JUST SIMPLY ONLY THE WORD PAR AVEC NOUS LE MOT SIMPLEMENT "
    "UNIQUEMENT SEULEMENT"
)
_END, _LIST, _SLOT = ".", ",", "{}"
_ALTERNATIVE = frozenset({_LIST, "OR", "OU", "AND", "ET"})
_PURPOSE_MARKERS = frozenset({"TO", "POUR", "FOR", "AFIN", "DE", "D"})
_DESTINATIONS = frozenset({"TO", "AU", "AT", "ON", "SUR"})
_INVITATION_WORDS = re.compile(r"(\{\{.*?\}\})|([.!?\n])|([,;/])|([^\W_]+)")
# What a clause after an invited STOP word says when it is about opting out,
# from its start or after "to"/"pour" ("Text STOP to 36111 to opt out").
_OPT_OUT_PURPOSES = (
    "OPT OUT",
    "OPTOUT",
    "UNSUBSCRIBE",
    "UNSUB",
    "NO LONGER",
    "NOT RECEIVE",
    "STOP RECEIVING",
    "STOP GETTING",
    "NE PLUS",
    "NE RIEN RECEVOIR",
    "DESABONNER",
    "VOUS DESABONNER",
    "SE DESABONNER",
    "DESINSCRIRE",
    "VOUS DESINSCRIRE",
    "SE DESINSCRIRE",
    "DESABONNEMENT",
    "DESINSCRIPTION",
    "ARRETER DE RECEVOIR",
)
# Verbs that speak of opting out alone ("Reply STOP to stop"), and verbs that
# do only with what they end ("to cancel these texts"; "to cancel" alone is
# the appointment).
_STOP_VERBS = frozenset({"STOP", "ARRETER", "STOPPER"})
_ENDING_VERBS = _STOP_VERBS | frozenset({"END", "QUIT", "CANCEL", "ANNULER"})
_WHAT_ENDS = _CHANNELS | _DETERMINERS | frozenset({"RECEIVING", "RECEVOIR"})


@dataclass(frozen=True)
class KeywordInvitation:
    """One reply a text asks for: the word (normalised), the words after it
    up to the next alternative or sentence end (``purpose``), whether a
    carrier reads the word as an opt-out (``opts_out``) and whether the text
    asks for it in order to opt out (``to_opt_out``)."""

    word: str
    purpose: str
    opts_out: bool
    to_opt_out: bool

    @property
    def misread(self) -> bool:
        """Whether a patient who obeys would opt out without meaning to."""
        return self.opts_out and not self.to_opt_out


def _invitation_words(text: str) -> list[str]:
    """``text`` as upper-case words without accents, "." for a sentence end,
    "," for a list separator and "{}" for a template placeholder."""
    plain = "".join(
        c
        for c in unicodedata.normalize("NFKD", text or "")
        if unicodedata.category(c) not in ("Mn", "Me", "Cf")
    ).upper()
    return [
        _SLOT if slot else _END if end else _LIST if listed else word
        for slot, end, listed, word in _INVITATION_WORDS.findall(plain)
    ]


def _word_size(words: list[str], at: int) -> int:
    """How many words the invited word is ("OPT OUT" is two)."""
    return _phrase(words, at, KEYWORD_WORDS) or 1


def _asks_opt_out(words: list[str]) -> bool:
    """Whether a clause starting with ``words`` asks to opt out."""
    said = " ".join(words)
    if any(said == p or said.startswith(f"{p} ") for p in _OPT_OUT_PURPOSES):
        return True
    if not words or words[0] not in _ENDING_VERBS:
        return False
    ends = words[1:]
    if not ends:
        return words[0] in _STOP_VERBS
    return all(w in _WHAT_ENDS for w in ends) and any(w in _CHANNELS for w in ends)


def _to_opt_out(recorded: str, purpose: list[str]) -> bool:
    """Whether the words after an invited STOP word say it is to opt out."""
    rest = purpose
    while rest:  # "STOP SMS au 36111", "STOP to {{ number }}", "STOP svp"
        if rest[0] in _CHANNELS:
            rest = rest[1:]
        elif (
            rest[0] in _DESTINATIONS
            and rest[1:2]
            and (rest[1].isdigit() or rest[1] == _SLOT)
        ):
            rest = rest[2:]
        elif size := _phrase(rest, 0, _POLITENESS):
            rest = rest[size:]
        else:
            break
    if not rest:
        # "Reply STOP." asks for STOP; "Reply CANCEL." may mean anything.
        return recorded not in _EVERYDAY
    starts = [0] + [i + 1 for i, w in enumerate(rest) if w in _PURPOSE_MARKERS]
    return any(_asks_opt_out(rest[start:]) for start in starts)


def _invitation(words: list[str]) -> KeywordInvitation:
    size = _word_size(words, 0)
    word, purpose = " ".join(words[:size]), words[size:]
    match = keyword_parse(word)
    opts_out = match is not None and match.keyword == Keyword.STOP
    return KeywordInvitation(
        word=word,
        purpose=" ".join(purpose),
        opts_out=opts_out,
        to_opt_out=opts_out and _to_opt_out(match.word, purpose),
    )


def _alternative_at(words: list[str], at: int) -> bool:
    """Whether ``words[at]`` is one more invited word: "…, A to cancel",
    "… or OUI to take it", "… or CANCEL." but not "…, or call us"."""
    if at >= len(words) or words[at] in (_END, _LIST, _SLOT):
        return False
    after = at + _word_size(words, at)
    return (
        after >= len(words)
        or words[after] == _END
        or words[after] in _ALTERNATIVE
        or words[after] in _PURPOSE_MARKERS
    )


def keyword_invitations(text: str) -> list[KeywordInvitation]:
    """Every reply ``text`` asks for, in order. Pure.

    An invitation is an inviting verb ("Reply", "Répondez", "Text",
    "Envoyez", "Tapez", "répondre"…), optionally "with"/"par"/"le mot", then
    a word; then each alternative after ","/"or"/"ou"/"and"/"et" that is
    followed by its purpose, a list word or the end of the sentence ("Reply
    C to confirm, A to cancel" invites C and A). Template placeholders are
    words of their own and never keywords.
    """
    words = _invitation_words(text)
    found: list[KeywordInvitation] = []
    at = 0
    while at < len(words):
        if words[at] not in _INVITING:
            at += 1
            continue
        at += 1
        while at < len(words) and words[at] in _BEFORE_WORD:
            at += 1
        while at < len(words) and words[at] not in (_END, _LIST, _SLOT):
            end = at + _word_size(words, at)
            while end < len(words) and not (
                words[end] == _END or words[end] in _ALTERNATIVE
            ):
                end += 1
            found.append(_invitation(words[at:end]))
            at = end
            while at < len(words) and words[at] in _ALTERNATIVE:
                at += 1
            if not _alternative_at(words, at):
                break
    return found


def keyword_invitations_misread(text: str) -> list[KeywordInvitation]:
    """The replies ``text`` asks for that carriers read as an opt-out (STOP,
    CANCEL, END, QUIT…) for anything but opting out: "Reply CANCEL to
    cancel", "Répondez STOP pour annuler". "Reply STOP to opt out" and
    "Reply CANCEL to unsubscribe" are not misread. Pure."""
    return [i for i in keyword_invitations(text) if i.misread]


def keyword_invitations_error(text: str) -> str | None:
    """What staff are told when ``text`` (an SMS or voice template, a saved
    reply) asks for an opt-out word for something else; None when it does
    not. Translated in the active language."""
    misread = keyword_invitations_misread(text)
    if not misread:
        return None
    words = ", ".join(dict.fromkeys(i.word for i in misread))
    return gettext(
        "Carriers read %(words)s as an opt-out: a patient who answers with it no "
        "longer gets any SMS from the clinic. Ask for it only to opt out, or "
        "choose another word (such as A or 2)."
    ) % {"words": words}


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
