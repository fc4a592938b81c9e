"""What a keyword is: the grammar of STOP, START and HELP messages.

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
"""

from __future__ import annotations

import enum
import logging
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

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
