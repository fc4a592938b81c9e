"""The one walk along a patient's channel order that every planner shares."""

from consent.policy import Decision, suppress
from consent.vocabulary import Outcome, Reason
from messaging.services.channel_walk import walk

ALLOW = Decision(Outcome.ALLOW)


def test_the_first_usable_channel_is_chosen_and_later_ones_are_not_asked():
    # given: SMS refused, email usable, voice after it
    answers = {"sms": suppress(Reason.OPTED_OUT), "email": ALLOW, "voice": ALLOW}
    asked = []

    def decision_for(channel):
        asked.append(channel)
        return answers.get(channel, ALLOW)

    # when
    tried, chosen = walk(["sms", "email", "voice", "inapp"], decision_for, bool)
    # then: the inbox is still tried after the chosen channel, voice never is
    assert chosen == "email"
    assert asked == ["sms", "email", "inapp"]
    assert [c for c, _ in tried] == ["sms", "email", "inapp"]
    assert tried[0][1].reason == Reason.OPTED_OUT


def test_a_channel_without_content_is_passed_over():
    tried, chosen = walk(
        ["inapp", "sms", "email"], lambda c: ALLOW, lambda c: c != "sms"
    )
    assert chosen == "email"
    assert [c for c, _ in tried] == ["inapp", "sms", "email"]


def test_nothing_usable_leaves_no_channel_chosen():
    tried, chosen = walk(
        ["sms", "inapp"], lambda c: suppress(Reason.NO_CONTACT_POINT), bool
    )
    assert chosen == ""
    assert len(tried) == 2
