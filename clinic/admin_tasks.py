"""Admin's index and sidebar, by the task staff come for rather than by app.

Django lists models under the app that defines them (Clinic, Consent,
Messaging, …), which is how the code is split, not how a clinic works. The
groups here reorder Django's own app list (``AdminSite.get_app_list``), which
already holds only what the user may see, so a role sees exactly the models it
saw before, each once; a model no task names goes to Settings.
"""

from __future__ import annotations

from django.utils.translation import pgettext_lazy

OTHER = "settings"

# (key, label, models as "app_label.model_name"), in the order shown.
TASKS: list[tuple[str, str, list[str]]] = [
    (
        "patients",
        pgettext_lazy("admin task", "Patients & appointments"),
        [
            "clinic.patient",
            "clinic.appointment",
            "clinic.caregiver",
            "clinic.invitation",
            "outreach.waitlistentry",
            "outreach.slotoffer",
            "campaigns.patienttag",
        ],
    ),
    (
        "messages",
        pgettext_lazy("admin task", "Messages & conversations"),
        [
            "conversations.conversation",
            "messaging.message",
            "messaging.delivery",
            "conversations.savedreply",
            "messaging.template",
            "messaging.unmatchedinbound",
            "messaging.outboxentry",
        ],
    ),
    (
        "campaigns",
        pgettext_lazy("admin task", "Campaigns & reminders"),
        [
            "campaigns.campaign",
            "campaigns.campaignrecipient",
            "outreach.reminderrule",
            "outreach.reminder",
            "outreach.careschedule",
        ],
    ),
    (
        "consent",
        pgettext_lazy("admin task", "Consent & privacy"),
        [
            "consent.consentevent",
            "consent.patientpreferences",
            "consent.patientprivacy",
            "consent.erasurerequest",
            "consent.topic",
            "consent.organizationpolicy",
        ],
    ),
    (
        "insights",
        pgettext_lazy("admin task", "Insights & feedback"),
        [
            "insights.dashboard",
            "feedback.survey",
            "feedback.surveyinvitation",
            "feedback.surveyresponse",
            "feedback.improvementnote",
        ],
    ),
    (
        OTHER,
        pgettext_lazy("admin task", "Settings"),
        [
            "clinic.organization",
            "clinic.site",
            "clinic.team",
            "clinic.staffmember",
            "messaging.senderidentity",
            "api.apikey",
            "api.webhooksubscription",
            "api.webhookdelivery",
            "auth.user",
            "auth.group",
        ],
    ),
]


def _key(app_label: str, model: dict) -> str:
    return f"{app_label}.{model['object_name'].lower()}"


def tasks_from_app_list(app_list: list[dict]) -> list[dict]:
    """Django's app list regrouped by task: ``[{"key", "name", "models"}]``.

    Each model of ``app_list`` appears exactly once, in the order of ``TASKS``
    (models no task names last in Settings, in Django's order); empty groups
    are left out. The model dicts are Django's, unchanged.
    """
    placed = {name: key for key, _label, names in TASKS for name in names}
    order = {name: i for _key_, _label, names in TASKS for i, name in enumerate(names)}
    grouped: dict[str, list[tuple[int, dict]]] = {key: [] for key, _l, _n in TASKS}
    unnamed = len(order)
    for app in app_list:
        for model in app["models"]:
            name = _key(app["app_label"], model)
            task = placed.get(name, OTHER)
            grouped[task].append((order.get(name, unnamed), model))
            unnamed += name not in order
    return [
        {
            "key": key,
            "name": label,
            "models": [model for _pos, model in sorted(grouped[key], key=_first)],
        }
        for key, label, _names in TASKS
        if grouped[key]
    ]


def _first(pair: tuple[int, dict]) -> int:
    return pair[0]
