"""SMS keywords: STOP, START and HELP in English and French, honoured at once.

These words belong to consent. Any feature that reads SMS replies (appointment
confirmations, surveys) must call ``sms_keyword_handle`` first and must never
give a keyword another meaning (``keyword_is_reserved``).

- ``grammar``: what a keyword is (the grammar, its decisions and sources);
- ``invitations``: the replies a text asks for, and those a carrier reads as
  an opt-out;
- ``handling``: what a keyword does (ledger events) and the reply it gets.
"""

from consent.keywords.grammar import (
    KEYWORD_WORDS,
    RESERVED_KEYWORDS,
    Keyword,
    KeywordMatch,
    keyword_answers_check,
    keyword_classify,
    keyword_is_reserved,
    keyword_normalize,
    keyword_parse,
)
from consent.keywords.handling import (
    KEYWORD_PURPOSES,
    KeywordResult,
    keyword_reply,
    sms_keyword_handle,
)
from consent.keywords.invitations import (
    KeywordInvitation,
    keyword_invitations,
    keyword_invitations_error,
    keyword_invitations_misread,
)

__all__ = [
    "KEYWORD_PURPOSES",
    "KEYWORD_WORDS",
    "RESERVED_KEYWORDS",
    "Keyword",
    "KeywordInvitation",
    "KeywordMatch",
    "KeywordResult",
    "keyword_answers_check",
    "keyword_classify",
    "keyword_invitations",
    "keyword_invitations_error",
    "keyword_invitations_misread",
    "keyword_is_reserved",
    "keyword_normalize",
    "keyword_parse",
    "keyword_reply",
    "sms_keyword_handle",
]
