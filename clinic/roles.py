"""What each staff role may do in admin, as Django permission names.

Permissions follow the role held in ``StaffMember``, so granting a role is one
field and nobody maintains groups by hand. Other apps add their models here as
they arrive.
"""

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
