"""What each figure of the dashboard means, one sentence per family, shown on
the page beside it (and in docs/insights.md, which explains the choices)."""

from django.utils.translation import gettext_lazy as _

DEFINITIONS = {
    "frt": _(
        "Time from a conversation's opening to the first staff reply, for "
        "conversations opened in the period and answered (wall-clock time); "
        "the median is the middle value, p90 the time within which 90% were answered."
    ),
    "fcr": _(
        "Of the conversations closed in the period (and still closed) that had "
        "at least one staff reply, the share closed after exactly one staff reply "
        "and never reopened by the patient."
    ),
    "csat": _(
        "Satisfaction answers (1–5) in responses submitted in the period: the "
        "share of 4s and 5s, and the mean score."
    ),
    "nps": _(
        "Net promoter score of the recommendation answers (0–10) submitted in the "
        "period: % promoters (9–10) minus % detractors (0–6), from −100 to +100."
    ),
    "survey_response_rate": _(
        "Of the survey invitations sent in the period, the share answered "
        "(so far, anonymous answers included)."
    ),
    "delivery_rate": _(
        "Of the deliveries of messages created in the period that were handed to "
        "the channel (sent, delivered, read, failed, bounced or unknown), the "
        "share the provider confirmed delivered (or read)."
    ),
    "read_rate": _(
        "Of the delivered deliveries of messages created in the period, the share "
        "read on that channel (the inbox and tracked emails report reads; SMS "
        "and calls cannot)."
    ),
    "confirmation_rate": _(
        "Of the appointments starting in the period that are still booked or "
        "confirmed, the share confirmed; with reminders means at least one "
        "reminder was sent for it (appointments already attended, missed or "
        "cancelled no longer show whether they were confirmed)."
    ),
    "no_show_rate": _(
        "Of the appointments starting in the period that took place or were "
        "missed, the share missed (no-show); with reminders means at least one "
        "reminder was sent for it."
    ),
    "opt_out": _(
        "Of the patients sent a message on a topic in the period, the share who "
        "withdrew from that topic in the period; per purpose, of the patients sent "
        "a message on any of its topics, the share who withdrew from the whole "
        "purpose (e.g. an SMS STOP). Each patient counts once."
    ),
    "active_users": _(
        "Patients whose own portal account signed in during the period, out of "
        "the patients who have a portal account."
    ),
    "messages_read": _(
        "Messages to patients created in the period and read (in the inbox or "
        "on a channel that reports reads), out of all messages sent to patients "
        "in the period."
    ),
    "attrition": _(
        "Patients registered before the inactivity window with no interaction in "
        "it (no message written or read, no portal sign-in, no appointment "
        "attended, no survey answered), out of all patients registered before it; "
        "the window is the %(days)s days before the period's end."
    ),
}

SITE_WIDE_NOTE = _(
    "Messages, consent and portal accounts belong to the organization, not to a "
    "site: these figures are for every site."
)
