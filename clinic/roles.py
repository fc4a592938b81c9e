"""What each staff role may do in admin, as Django permission names.

Permissions follow the role held in ``StaffMember``, so granting a role is one
field and nobody maintains groups by hand. Other apps add their models here as
they arrive.

It also holds which topic purposes each role may send to many patients at
once (``ROLE_PURPOSES``, enforced by the campaign, bulk-send and API-key
services).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from clinic.models import StaffMember, StaffRole
from clinic.purposes import Purpose

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

VIEW = ("view",)
EDIT = ("view", "add", "change")
ALL = ("view", "add", "change", "delete")


def _perms(app_label: str, model_actions: dict[str, tuple[str, ...]]) -> set[str]:
    return {
        f"{app_label}.{action}_{model}"
        for model, actions in model_actions.items()
        for action in actions
    }


CONSENT_READ = _perms(
    "consent",
    {
        "topic": VIEW,
        "consentevent": VIEW,
        "patientpreferences": VIEW,
        "patientprivacy": VIEW,
        "erasurerequest": VIEW,
    },
)
PRIVACY_RIGHTS = {
    "consent.export_patient_data",
    "consent.erase_patient",
    "consent.record_objection",
}

MESSAGING_READ = _perms(
    "messaging",
    {
        "message": VIEW,
        "delivery": VIEW,
        "outboxentry": VIEW,
        "unmatchedinbound": ("view", "change"),
    },
)

# Reminder rules are deactivated rather than deleted: their reminders are
# the history of what patients were sent.
# Care schedules hold a medication label (health data): only roles that see
# patients' records edit them. Slot offers are written by the workflow only.
REMINDERS_EDIT = _perms(
    "outreach",
    {
        "reminderrule": EDIT,
        "reminder": VIEW,
        "careschedule": EDIT,
        "waitlistentry": ALL,
        "slotoffer": VIEW,
    },
)
REMINDERS_READ = _perms(
    "outreach",
    {
        "reminderrule": VIEW,
        "reminder": VIEW,
        "careschedule": VIEW,
        "waitlistentry": VIEW,
        "slotoffer": VIEW,
    },
)

# Campaigns: a second person approves (the author never can, whatever the
# role); marketing writes and runs them, admins also approve.
CAMPAIGNS_RUN = _perms(
    "campaigns", {"campaign": EDIT, "campaignrecipient": VIEW, "patienttag": ALL}
) | {"campaigns.send_campaign"}
CAMPAIGNS_READ = _perms(
    "campaigns", {"campaign": VIEW, "campaignrecipient": VIEW, "patienttag": VIEW}
)

# Partner access (issue 7): only an organization's admins hand out API keys
# and webhook subscriptions.
API_KEYS_MANAGE = _perms(
    "api", {"apikey": EDIT, "webhooksubscription": ALL, "webhookdelivery": VIEW}
)

# Feedback (issues 7 and 8): surveys built by admins and coordinators, read by support.
SURVEYS_EDIT = _perms(
    "feedback",
    {
        "survey": ALL,
        "question": ALL,
        "surveyresponse": VIEW,
        "surveyinvitation": VIEW,
        "improvementnote": ALL,
    },
)
SURVEYS_READ = _perms(
    "feedback",
    {
        "survey": VIEW,
        "question": VIEW,
        "surveyresponse": VIEW,
        "surveyinvitation": VIEW,
        "improvementnote": VIEW,
    },
)

# Staff conversations (issue 8): teams are managed by admins and
# coordinators; saved replies are written by those who answer patients;
# internal notes are added on the conversation page (the inline is read-only).
CONVERSATIONS_MANAGE = _perms(
    "messaging",
    {"conversation": EDIT, "conversationnote": EDIT, "savedreply": ALL},
) | _perms("clinic", {"team": ALL})
CONVERSATIONS_ANSWER = _perms(
    "messaging",
    {"conversation": EDIT, "conversationnote": EDIT, "savedreply": EDIT},
) | _perms("clinic", {"team": VIEW})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        CONSENT_READ
        | PRIVACY_RIGHTS
        | _perms("consent", {"topic": EDIT, "organizationpolicy": ("view", "change")})
        | MESSAGING_READ
        | REMINDERS_EDIT
        | CAMPAIGNS_RUN
        | {"campaigns.approve_campaign"}
        | API_KEYS_MANAGE
        | SURVEYS_EDIT
        | _perms("messaging", {"template": ALL})
        # Their organization's numbers and provider accounts (secrets are
        # written, never shown back).
        | _perms("messaging", {"senderidentity": ALL})
        | CONVERSATIONS_MANAGE
        | _perms(
            "clinic",
            {
                "organization": ("view", "change"),
                "site": ALL,
                "staffmember": ("view", "change"),
                "patient": ALL,
                "caregiver": ("view", "change", "delete"),
                "appointment": ALL,
                "visittype": ALL,
                "invitation": EDIT,
            },
        )
    ),
    "coordinator": frozenset(
        CONSENT_READ
        | MESSAGING_READ
        | REMINDERS_EDIT
        | CAMPAIGNS_READ
        | SURVEYS_EDIT
        | _perms("messaging", {"template": VIEW})
        | CONVERSATIONS_MANAGE
        | _perms(
            "clinic",
            {
                "organization": VIEW,
                "site": VIEW,
                "staffmember": VIEW,
                "patient": EDIT,
                "caregiver": VIEW,
                "appointment": ALL,
                "visittype": ALL,
                "invitation": EDIT,
            },
        )
    ),
    "clinician": frozenset(
        _perms(
            "clinic",
            {"site": VIEW, "patient": VIEW, "appointment": ("view", "change")},
        )
        | _perms("messaging", {"message": VIEW})
        | CONVERSATIONS_ANSWER
    ),
    "support": frozenset(
        CONSENT_READ
        | MESSAGING_READ
        | REMINDERS_READ
        | SURVEYS_READ
        | CONVERSATIONS_ANSWER
        | {"consent.export_patient_data", "consent.record_objection"}
        | _perms(
            "clinic",
            {
                "site": VIEW,
                "patient": ("view", "change"),
                "caregiver": VIEW,
                "appointment": ("view", "change"),
                "invitation": EDIT,
            },
        )
    ),
    "marketing": frozenset(
        _perms("clinic", {"site": VIEW, "patient": VIEW})
        | _perms("consent", {"topic": EDIT, "organizationpolicy": VIEW})
        | _perms("messaging", {"template": EDIT, "delivery": VIEW, "outboxentry": VIEW})
        | CAMPAIGNS_RUN
        | {"campaigns.approve_campaign"}
    ),
}

# The KPI dashboard (insights, issue 8): figures, the rows behind them
# (identifiers and dates, no content) and their CSV, for the roles that steer
# the clinic. Clinicians keep to their own patients.
INSIGHTS_VIEW = frozenset({"insights.view_dashboard"})
for _role in ("admin", "coordinator", "support", "marketing"):
    ROLE_PERMISSIONS[_role] |= INSIGHTS_VIEW


# --- Topic purposes each role may send to many patients ------------------------
#
# A topic's purpose decides the consent rules (docs/consent.md): care needs no
# opt-in, campaigns need one. So who may address a topic to many patients at
# once (a campaign, a bulk send, an API key) depends on the purpose, not only on
# the permission to run campaigns: a marketing campaign on the care topic
# "Results available" would reach every patient without their opt-in. The
# values are ``clinic.purposes.Purpose``'s (tests/clinic/test_role_purposes.py
# checks they are the same words).
CARE, MARKETING, SECURITY, FEEDBACK = "care", "marketing", "security", "feedback"
PURPOSES = (CARE, MARKETING, SECURITY, FEEDBACK)

# Security topics (codes, new-device alerts) ignore opt-outs and caps: only
# Liaison itself sends them, so no role has them. Marketing staff run
# campaigns and news (the marketing purpose) only; clinicians and support
# speak for care; coordinators also run surveys; the clinic's administrators
# answer for all three.
ROLE_PURPOSES: dict[str, frozenset[str]] = {
    "admin": frozenset({CARE, MARKETING, FEEDBACK}),
    "coordinator": frozenset({CARE, FEEDBACK}),
    "clinician": frozenset({CARE}),
    "support": frozenset({CARE}),
    "marketing": frozenset({MARKETING}),
}


def template_purposes(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    """The purposes of the topics whose templates this user may write: what
    their role may send, and for the clinic's administrators the security
    topics too (the wording of a code message is the clinic's, its sending
    Liaison's). Marketing staff rewording a care reminder would speak for
    care as surely as sending one."""
    allowed = purposes_allowed(user)
    if staff_role(user) == "admin":
        allowed |= {SECURITY}
    return allowed


class PurposeNotAllowed(PermissionDenied):
    """A campaign, bulk send or API key on a topic whose purpose the role
    may not use; the text is for staff (or the partner) to read."""


def staff_role(user: AbstractBaseUser | AnonymousUser | None) -> str | None:
    """The role of a staff user, or None (cached on the user)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_liaison_role"):
        user._liaison_role = (
            StaffMember.objects.filter(user=user).values_list("role", flat=True).first()
        )
    return user._liaison_role


def purposes_allowed(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    """The topic purposes this user may send to many patients: their role's;
    every purpose for a superuser (as Django grants them every permission);
    none for an inactive user or one without a role."""
    if user is None or not getattr(user, "is_active", False):
        return frozenset()
    if user.is_superuser:
        return frozenset(PURPOSES)
    return ROLE_PURPOSES.get(staff_role(user) or "", frozenset())


def purpose_check(
    user: AbstractBaseUser | AnonymousUser | None, purpose: str, *, who: str = ""
) -> None:
    """Raise PurposeNotAllowed unless ``user`` may send topics of ``purpose``.

    ``who`` names the person in the message when it is not the one acting
    ("the author").
    """
    if purpose in purposes_allowed(user):
        return
    raise PurposeNotAllowed(purpose_refusal(user, purpose, who=who))


def purpose_refusal(
    user: AbstractBaseUser | AnonymousUser | None, purpose: str, *, who: str = ""
) -> str:
    labels = _purpose_labels()
    role = staff_role(user)
    allowed = purposes_allowed(user)
    values = {
        "purpose": labels.get(purpose, purpose),
        "role": StaffRole(role).label if role in StaffRole.values else _("no role"),
        "allowed": purposes_text(allowed),
        "who": who,
    }
    if who:
        return (
            _(
                "%(who)s (%(role)s) may not send topics of the purpose "
                "“%(purpose)s”; their role allows: %(allowed)s."
            )
            % values
        )
    return (
        _(
            "Your role (%(role)s) may not send topics of the purpose "
            "“%(purpose)s”; it allows: %(allowed)s."
        )
        % values
    )


def purposes_text(purposes: frozenset[str] | set[str]) -> str:
    """The purposes in words, in the vocabulary's order ("none" when empty)."""
    labels = _purpose_labels()
    words = [str(labels[p]) for p in PURPOSES if p in purposes]
    return ", ".join(words) if words else str(_("none"))


def _purpose_labels() -> dict[str, str]:
    return dict(Purpose.choices)
