"""Replies a text invites, and which of them a carrier reads as an opt-out.

Carriers read CANCEL, END, QUIT… as STOP whatever the text asked, so a text
may ask for such a word only to opt out: "Reply STOP to opt out" is fine,
"Reply CANCEL to cancel" unsubscribes the patient who obeys.
``keyword_invitations_misread`` finds those; messaging refuses SMS and voice
templates and saved replies that contain one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext

from consent.keywords.grammar import (
    _CHANNELS,
    _DETERMINERS,
    _EVERYDAY,
    _POLITENESS,
    KEYWORD_WORDS,
    Keyword,
    _phrase,
    _vocabulary,
    keyword_parse,
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
