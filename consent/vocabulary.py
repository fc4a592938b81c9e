"""The fixed words of consent: purposes, channels, sources, decision reasons.

Admin, the portal and the API show these as words (the labels) and store the
values; nothing else may invent a reason.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

# Defined by clinic, whose roles say which purposes each role may send.
from clinic.purposes import Purpose as Purpose


class Channel(models.TextChoices):
    INAPP = "inapp", _("Secure inbox")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")


class Source(models.TextChoices):
    PORTAL = "portal", _("Patient portal")
    STAFF = "staff", _("Clinic staff")
    SMS_KEYWORD = "sms-keyword", _("SMS keyword")
    EMAIL_UNSUBSCRIBE = "email-unsubscribe", _("Email unsubscribe link")
    API = "api", _("Partner system")
    IMPORT = "import", _("Import")


class Outcome(models.TextChoices):
    ALLOW = "allow", _("Allowed")
    DEFER = "defer", _("Deferred")
    SUPPRESS = "suppress", _("Not sent")


class Reason(models.TextChoices):
    # Suppressions
    OPTED_OUT = "opted_out", _("The patient withdrew consent for this")
    NO_OPT_IN = "no_opt_in", _("The patient has not opted in")
    CHANNEL_NOT_ALLOWED = (
        "channel_not_allowed",
        _("This topic does not use this channel"),
    )
    NO_CONTACT_POINT = "no_contact_point", _("No address for this channel")
    INVALID_ADDRESS = "invalid_address", _("The address is invalid or bounced")
    UNVERIFIED_CONTACT = "unverified_contact", _("The address is not verified")
    FREQUENCY_CAP = "frequency_cap", _("Frequency limit reached for this purpose")
    SURVEY_RECENTLY = "survey_recently", _("A survey was sent recently")
    FATIGUE_BUDGET = "fatigue_budget", _("The patient's message budget is used up")
    DUPLICATE = "duplicate", _("The same content was sent recently")
    PATIENT_ERASED = "patient_erased", _("The patient's data was erased")
    # Deferrals
    QUIET_HOURS = "quiet_hours", _("Quiet hours")
    MARKETING_DAY = "marketing_day", _("No campaigns on Sundays and public holidays")
    VOICE_WINDOW = "voice_window", _("Outside the hours allowed for calls")


class LawfulBasis(models.TextChoices):
    CARE = "care", _("Provision of care (GDPR art. 9(2)(h))")
    CONSENT = "consent", _("Your consent (GDPR art. 6(1)(a))")
    SECURITY = "security", _("Protecting your account (GDPR art. 6(1)(b))")
    LEGITIMATE_INTEREST = (
        "legitimate_interest",
        _("Improving our care, which you may refuse (GDPR art. 6(1)(f))"),
    )


LAWFUL_BASIS = {
    Purpose.CARE: LawfulBasis.CARE,
    Purpose.MARKETING: LawfulBasis.CONSENT,
    Purpose.SECURITY: LawfulBasis.SECURITY,
    Purpose.FEEDBACK: LawfulBasis.LEGITIMATE_INTEREST,
}


class PriorityClass(models.IntegerChoices):
    """Which messages win when limits bite: a lower number is a higher class.

    Security codes and essential care (appointments, messages that must be
    acknowledged, urgent care) are never held back by caps or the fatigue
    budget; the limits apply from routine care down, and each lower class
    stops short of the budget so that it never uses up what a higher one
    needs (docs/consent.md)."""

    SECURITY = 0, _("Security codes")
    ESSENTIAL = 1, _("Appointments and messages to acknowledge")
    ROUTINE = 2, _("Routine care")
    FEEDBACK = 3, _("Feedback and surveys")
    MARKETING = 4, _("Health campaigns and news")


#: Budget slots each limited class leaves to the classes above it: with a
#: budget of 6, routine care may use all 6, feedback stops at 5, campaigns at 4.
BUDGET_HEADROOM = {
    PriorityClass.ROUTINE: 0,
    PriorityClass.FEEDBACK: 1,
    PriorityClass.MARKETING: 2,
}


def priority_class(
    *, purpose: str, urgent: bool = False, essential: bool = False
) -> PriorityClass:
    """The class of a topic's messages: from its purpose, and for care from
    whether it is essential (appointments, must-acknowledge) or urgent. Pure."""
    if purpose == Purpose.SECURITY:
        return PriorityClass.SECURITY
    if purpose == Purpose.MARKETING:
        return PriorityClass.MARKETING
    if purpose == Purpose.FEEDBACK:
        return PriorityClass.FEEDBACK
    if urgent or essential:
        return PriorityClass.ESSENTIAL
    return PriorityClass.ROUTINE
