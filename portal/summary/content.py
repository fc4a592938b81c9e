"""My data as a person reads it: the JSON export in plain words, for a page
to print and a PDF to download.

``summary_for`` gathers it from the same document the JSON download gives
(``consent.gdpr.export.export_patient`` through ``portal.privacy.export_for``)
and turns every value into words of the active language, with dates in the
active time zone: the caller wraps it in ``patient_locale``. The result is a
list of sections made of two kinds of blocks, facts (label: value) and
tables, which ``templates/portal/data/summary.html`` and
``portal.summary.pdf`` both render, so the page and the PDF say the same.
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from clinic.models import AccessAudit, AppointmentStatus, Caregiver
from consent.gdpr.export import export_patient
from consent.gdpr.registry import BUILT_IN_SECTIONS
from consent.models import ConsentEvent, Topic
from consent.vocabulary import Channel, Purpose, Source
from messaging.models import DeliveryStatus, Message
from portal.access import PortalAccess
from portal.privacy import export_for

#: How many access-log entries the summary lists (the newest); the access
#: log page and the JSON download have them all.
ACCESS_LOG_ENTRIES = 20
#: Sections of the export the summary words itself; any other registered
#: section is named as being in the JSON download only.
SUMMARISED = BUILT_IN_SECTIONS | {"messages", "survey_responses"}
NONE = "—"


@dataclass(frozen=True)
class Facts:
    rows: list[tuple[str, str]]
    kind: str = "facts"


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]
    empty: str
    kind: str = "table"


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Facts | Table]
    intro: str = ""


@dataclass(frozen=True)
class Summary:
    clinic: str
    patient_name: str
    generated_on: datetime.date
    generated: str  # "Generated on …" in words
    sections: list[Section] = field(default_factory=list)
    contact: str = ""


def _parse(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    parsed = datetime.datetime.fromisoformat(value)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.UTC)
    return timezone.localtime(parsed)


def _when(value: str | None) -> str:
    moment = _parse(value)
    return formats.date_format(moment, "DATETIME_FORMAT") if moment else NONE


def _day(value: str | None) -> str:
    if not value:
        return NONE
    moment = datetime.date.fromisoformat(value[:10])
    if "T" in value:
        moment = _parse(value).date()
    return formats.date_format(moment, "DATE_FORMAT")


def _hour(value: str | None) -> str:
    if not value:
        return ""
    return formats.time_format(datetime.time.fromisoformat(value), "TIME_FORMAT")


def _label(choices: type, value: str | None) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or NONE


def _channel(value: str | None) -> str:
    return (
        pgettext("data summary", "Every channel")
        if value in (None, "", "*")
        else _label(Channel, value)
    )


class _Topics:
    """Topic names by slug, in the active language, for the patient's
    organization (one query)."""

    def __init__(self, organization_id: int, slugs: set[str]) -> None:
        language = translation.get_language() or "en"
        self.names = {
            topic.slug: topic.name(language)
            for topic in Topic.objects.for_organization(organization_id).filter(
                slug__in=slugs
            )
        }

    def name(self, slug: str | None, purpose: str | None = None) -> str:
        if slug:
            return self.names.get(slug, slug)
        return _label(Purpose, purpose)


def _about(document: dict[str, Any]) -> Section:
    person = document["patient"]
    preferences = document["preferences"]
    email = person["email"] or NONE
    if person["email"] and preferences.get("email_verified_at"):
        email = _("%(address)s (verified)") % {"address": email}
    phone = person["phone"] or NONE
    if person["phone"] and preferences.get("phone_verified_at"):
        phone = _("%(address)s (verified)") % {"address": phone}
    language = person["preferred_language"]
    with contextlib.suppress(KeyError):
        language = translation.get_language_info(language)["name_translated"]
    rows = [
        (
            pgettext("data summary", "Name"),
            f"{person['given_name']} {person['family_name']}".strip(),
        ),
        (pgettext("data summary", "Date of birth"), _day(person["birth_date"])),
        (_("Patient number at the clinic"), person["identifier"] or NONE),
        (_("Email address"), email),
        (pgettext("data summary", "Phone number"), phone),
        (_("Language"), str(language)),
        (pgettext("data summary", "Time zone"), person["time_zone"]),
        (pgettext("data summary", "Portal account"), person["portal_account"] or NONE),
    ]
    return Section(title=_("About you"), blocks=[Facts(rows=rows)])


def _appointments(document: dict[str, Any]) -> Section:
    now = timezone.now()
    headers = [
        pgettext("data summary", "Date and time"),
        _("Visit type"),
        _("With"),
        _("Place"),
        _("Status"),
    ]

    def row(appointment: dict[str, Any]) -> list[str]:
        names = appointment.get("visit_type") or {}
        kind = (
            names.get((translation.get_language() or "en")[:2])
            or appointment["kind"]
            or NONE
        )
        return [
            _when(appointment["starts_at"]),
            kind[:1].upper() + kind[1:],
            appointment["practitioner"] or NONE,
            appointment["site"],
            _label(AppointmentStatus, appointment["status"]),
        ]

    upcoming, past = [], []
    for appointment in document["appointments"]:
        starts_at = _parse(appointment["starts_at"])
        (upcoming if starts_at and starts_at >= now else past).append(appointment)
    return Section(
        title=_("Your appointments"),
        blocks=[
            Table(
                caption=_("Upcoming"),
                headers=headers,
                rows=[row(a) for a in upcoming],
                empty=_("No upcoming appointment."),
            ),
            Table(
                caption=_("Past"),
                headers=headers,
                rows=[row(a) for a in reversed(past)],
                empty=_("No past appointment."),
            ),
        ],
    )


def _settings_facts(document: dict[str, Any], topics: _Topics) -> Facts:
    preferences = document["preferences"]
    if preferences["send_from"] and preferences["send_until"]:
        hours = _("Between %(start)s and %(end)s") % {
            "start": _hour(preferences["send_from"]),
            "end": _hour(preferences["send_until"]),
        }
    else:
        hours = _("The clinic's usual hours")
    per_week = preferences["marketing_per_week"]
    rows = [
        (_("Hours you may receive messages"), hours),
        (
            _("Campaign messages per week"),
            str(per_week) if per_week is not None else _("The clinic's default"),
        ),
    ]
    for slug, channels in sorted((preferences["channel_order"] or {}).items()):
        rows.append(
            (
                _("Order of channels for: %(topic)s") % {"topic": topics.name(slug)},
                ", ".join(_channel(c) for c in channels),
            )
        )
    if preferences["objects_to_automation"]:
        objection = _("You object, since %(date)s") % {
            "date": _day(preferences["objected_at"])
        }
    else:
        objection = _("You do not object")
    rows.append((_("Automated processing"), objection))
    return Facts(rows=rows)


def _choices_table(document: dict[str, Any], topics: _Topics) -> Table:
    """The decisions in force: one row per topic (or purpose), one column
    per channel they name."""
    order = ["*", *Channel.values]
    states = document["consent_state"]
    channels = sorted({s["channel"] for s in states}, key=order.index)
    decisions: dict[str, dict[str, str]] = {}
    for state in states:
        what = topics.name(state["topic"], state["purpose"])
        decisions.setdefault(what, {})[state["channel"]] = (
            pgettext("data summary", "Yes")
            if state["granted"]
            else pgettext("data summary", "No")
        )
    return Table(
        caption=_("Your decisions in force, by channel"),
        headers=[pgettext("data summary", "About"), *(_channel(c) for c in channels)],
        rows=[
            [what, *(cells.get(c, NONE) for c in channels)]
            for what, cells in decisions.items()
        ],
        empty=_("You have made no decision yet: the clinic's defaults apply."),
    )


def _choices(document: dict[str, Any], topics: _Topics) -> Section:
    history = Table(
        caption=_("History of your choices"),
        headers=[
            _("Date"),
            pgettext("data summary", "Decision"),
            pgettext("data summary", "About"),
            _("Channel"),
            pgettext("data summary", "How"),
        ],
        rows=[
            [
                _when(event["occurred_at"]),
                _("Allowed")
                if event["action"] == ConsentEvent.Action.GRANTED
                else pgettext("data summary", "Refused"),
                topics.name(event["topic"], event["purpose"]),
                _channel(event["channel"]),
                _label(Source, event["source"]),
            ]
            for event in reversed(document["consent_events"])
        ],
        empty=_("You have not changed any choice yet."),
    )
    return Section(
        title=_("Your choices about messages"),
        blocks=[
            _settings_facts(document, topics),
            _choices_table(document, topics),
            history,
        ],
    )


def _messages(document: dict[str, Any], topics: _Topics) -> Section:
    def how(message: dict[str, Any]) -> str:
        if message["direction"] == Message.Direction.INBOUND:
            return _("Sent by you")
        return "; ".join(
            _("%(channel)s: %(status)s")
            % {
                "channel": _channel(d["channel"]),
                "status": _label(DeliveryStatus, d["status"]),
            }
            for d in message["deliveries"]
        )

    rows = [
        [
            _when(message["created_at"]),
            message["subject"] or topics.name(message["topic"]),
            how(message) or NONE,
        ]
        for message in reversed(document.get("messages") or [])
    ]
    sent = Table(
        caption=_("What was sent to you, and how"),
        headers=[_("Date"), pgettext("data summary", "About"), _("Channel")],
        rows=[
            [_when(r["sent_at"]), topics.name(r["topic"]), _channel(r["channel"])]
            for r in reversed(document["communications"])
        ],
        empty=_("Nothing was sent to you yet."),
    )
    return Section(
        title=_("Your messages"),
        intro=_(
            "The subject of each message, not its text: the text is in your "
            "secure inbox and in the JSON download."
        ),
        blocks=[
            Table(
                caption=_("Messages"),
                headers=[_("Date"), _("Subject"), _("Channel and status")],
                rows=rows,
                empty=_("No message yet."),
            ),
            sent,
        ],
    )


def _surveys(document: dict[str, Any]) -> Section:
    return Section(
        title=_("Surveys you answered"),
        blocks=[
            Table(
                caption="",
                headers=[
                    pgettext("data summary", "Survey"),
                    _("Date"),
                    pgettext("data summary", "Answers"),
                ],
                rows=[
                    [
                        response["survey"],
                        _when(response["submitted_at"]),
                        pgettext("data summary", "Complete")
                        if response["complete"]
                        else pgettext("data summary", "Partial"),
                    ]
                    for response in reversed(document.get("survey_responses") or [])
                ],
                empty=_("You have not answered any survey."),
            )
        ],
    )


def _caregivers(document: dict[str, Any]) -> Section:
    return Section(
        title=_("People who may act for you"),
        blocks=[
            Table(
                caption="",
                headers=[
                    pgettext("data summary", "Relationship"),
                    pgettext("data summary", "Account"),
                    pgettext("data summary", "Since"),
                ],
                rows=[
                    [
                        _label(Caregiver.Relationship, c["relationship"]),
                        c["username"],
                        _day(c["since"]),
                    ]
                    for c in document["caregivers"]
                ],
                empty=_("Nobody acts for you in the portal."),
            )
        ],
    )


def _access_log(document: dict[str, Any]) -> Section:
    entries = document["access_audit"]
    newest = list(reversed(entries))[:ACCESS_LOG_ENTRIES]
    return Section(
        title=_("Who accessed your record"),
        intro=_(
            "Entries in all: %(count)s. Below, the newest (%(limit)s at most); "
            "the full list is on the “Who accessed my record” page."
        )
        % {"count": len(entries), "limit": ACCESS_LOG_ENTRIES}
        if entries
        else "",
        blocks=[
            Table(
                caption="",
                headers=[
                    _("Date"),
                    pgettext("data summary", "Who"),
                    pgettext("data summary", "What"),
                ],
                rows=[
                    [
                        _when(e["occurred_at"]),
                        e["who"],
                        _label(AccessAudit.Action, e["action"]),
                    ]
                    for e in newest
                ],
                empty=_("Nobody has accessed your record yet."),
            )
        ],
    )


def _others(document: dict[str, Any]) -> list[Section]:
    others = sorted(set(document) - SUMMARISED)
    if not others:
        return []
    return [
        Section(
            title=pgettext("data summary", "Other data"),
            intro=_("These parts are in the JSON download only: %(names)s.")
            % {"names": ", ".join(others)},
            blocks=[],
        )
    ]


def summary_build(*, document: dict[str, Any], organization_id: int) -> Summary:
    """The summary of an export ``document`` (``export_patient``'s shape), in
    the active language and time zone. Reads topic names of
    ``organization_id``; no other query, no side effect."""
    topics = _Topics(
        organization_id,
        {s["topic"] for s in document["consent_state"] if s["topic"]}
        | {e["topic"] for e in document["consent_events"] if e["topic"]}
        | {r["topic"] for r in document["communications"]}
        | {m["topic"] for m in document.get("messages") or []}
        | set((document["preferences"]["channel_order"] or {}).keys()),
    )
    organization = document["organization"]
    person = document["patient"]
    today = timezone.localdate()
    contact = " · ".join(
        c for c in (organization["contact_email"], organization["contact_phone"]) if c
    )
    return Summary(
        clinic=organization["name"],
        patient_name=f"{person['given_name']} {person['family_name']}".strip(),
        generated_on=today,
        generated=_("Generated on %(date)s by %(clinic)s.")
        % {"date": _when(document["generated_at"]), "clinic": organization["name"]},
        contact=contact,
        sections=[
            _about(document),
            _appointments(document),
            _choices(document, topics),
            _messages(document, topics),
            _surveys(document),
            _caregivers(document),
            _access_log(document),
            *_others(document),
        ],
    )


def summary_for(*, access: PortalAccess) -> Summary:
    """The summary of what the JSON download gives this request: the same
    export, with the same items left out for a caregiver (``export_for``).
    Reads only; the caller records the access."""
    patient = access.patient
    document = export_for(access=access, document=export_patient(patient=patient))
    return summary_build(document=document, organization_id=patient.organization_id)
