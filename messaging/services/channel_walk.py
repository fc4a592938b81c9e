"""Which channels a message takes: the one walk along a patient's channel order.

Every planner asks it — a single send (``sending.message_send``), its fallback
and escalation steps, the bulk form (``bulk``), and a campaign's live count
(``campaigns.audience``) — so a change to the rule changes all of them:

- the secure inbox is always tried, wherever it stands in the order;
- the other channels are tried in order until one is neither suppressed by
  consent nor without content; it is the one the message goes out on, and
  the channels after it are not asked at all;
- every channel tried keeps consent's answer, so a channel passed over says
  why (the delivery log, the campaign's "who does not receive it and why").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from consent.policy import Decision
from consent.vocabulary import Channel, Outcome

INBOX = Channel.INAPP
SUPPRESS = Outcome.SUPPRESS


def walk(
    order: Sequence[str],
    decision_for: Callable[[str], Decision],
    has_content: Callable[[str], bool],
) -> tuple[list[tuple[str, Decision]], str]:
    """The channels tried along ``order``, each with consent's answer, and the
    external channel chosen ("" when none is usable).

    ``decision_for(channel)`` is asked only for the channels tried;
    ``has_content(channel)``: whether the message has something to carry
    there (a confidential message always has its notice outside the inbox).
    """
    tried: list[tuple[str, Decision]] = []
    chosen = ""
    for channel in order:
        if chosen and channel != INBOX:
            continue
        decision = decision_for(channel)
        tried.append((channel, decision))
        if channel != INBOX and decision.outcome != SUPPRESS and has_content(channel):
            chosen = channel
    return tried, chosen
