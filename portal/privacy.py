"""Hiding items from the people acting for a patient: hide and show again,
and the patient's data without the hidden items.

Who may hide and who sees hidden items is decided by ``portal.access``
(``PortalAccess.may_hide_items``, ``sees_hidden_items``); the inbox selectors
and ``PortalAccess.appointments()`` leave hidden items out. Hiding and showing
again are written to the admin history of the object, for staff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.models import AccessAudit, Appointment, Patient
from consent.fhir import send_record_public_id
from consent.models import SendRecord
from core.live import notify_on_commit
from messaging.backends.inapp import patient_group
from messaging.inbox import inbox_hidden_public_ids
from messaging.models import Message
from portal.access import PortalAccess

LOG_HIDDEN = "Hidden from caregivers by the patient in the portal."
LOG_SHOWN = "Shown to caregivers again by the patient in the portal."


class PrivacyError(Exception):
    """This request may not hide (or show again) items."""


def _record(user: Any, obj: models.Model, hidden: bool) -> None:
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[obj],
        action_flag=CHANGE,
        change_message=LOG_HIDDEN if hidden else LOG_SHOWN,
        single_object=True,
    )


def _notify_on_commit(patient: Patient) -> None:
    """Tell the patient's open inbox pages, and their caregivers', to re-read
    the list (no id: the page asks for what it may see)."""
    notify_on_commit(patient_group(patient.pk), {"type": "inbox.changed"})


def _check(access: PortalAccess, hidden: bool) -> None:
    if not (access.may_hide_items if hidden else access.may_unhide_items):
        raise PrivacyError


@transaction.atomic
def inbox_line_hide(
    *, access: PortalAccess, message: Message, hidden: bool, user: Any
) -> None:
    """Hide the message's inbox line from proxies (``hidden``), or show it
    again: the message, or its whole conversation, later messages included.

    ``message`` must be the patient's (from ``inbox_message_get``). Raises
    PrivacyError when ``access`` may not do it. Writes the admin history of
    the conversation (or the message) and tells open inbox pages.
    """
    _check(access, hidden)
    if message.conversation_id is None:
        line = Message.objects.filter(pk=message.pk, patient=access.patient)
    else:
        line = Message.objects.filter(
            conversation_id=message.conversation_id, patient=access.patient
        )
    if hidden:
        # Every message of the thread, so the line stays hidden whichever
        # message is later moved or erased.
        line.filter(hidden_from_proxies_at__isnull=True).update(
            hidden_from_proxies_at=timezone.now()
        )
    else:
        line.filter(hidden_from_proxies_at__isnull=False).update(
            hidden_from_proxies_at=None
        )
    _record(user, message.conversation or message, hidden)
    _notify_on_commit(access.patient)


@transaction.atomic
def appointment_hide(
    *, access: PortalAccess, appointment: Appointment, hidden: bool, user: Any
) -> None:
    """Hide the appointment from proxies (``hidden``), or show it again.

    ``appointment`` must come from ``access.appointment_get``. Leaves
    ``updated_at`` alone, so the one-tap links of reminders keep working.
    Raises PrivacyError when ``access`` may not do it; writes the admin
    history of the appointment.
    """
    _check(access, hidden)
    Appointment.objects.filter(pk=appointment.pk, patient=access.patient).update(
        hidden_from_proxies_at=timezone.now() if hidden else None
    )
    _record(user, appointment, hidden)


def _hidden_appointment_ids(patient: Patient) -> set[UUID]:
    return set(
        Appointment.objects.for_organization(patient.organization_id)
        .filter(patient=patient, hidden_from_proxies_at__isnull=False)
        .values_list("public_id", flat=True)
    )


def _hidden_send_records(patient: Patient, messages: set[UUID]) -> list[SendRecord]:
    if not messages:
        return []
    return list(
        SendRecord.objects.filter(
            patient=patient, message_key__in=[str(m) for m in messages]
        ).select_related("topic")
    )


def access_audit_entries(*, access: PortalAccess) -> QuerySet[AccessAudit]:
    """The patient's access-audit entries this request may show, newest
    first: without those naming a hidden item, for a caregiver who does not
    see hidden items."""
    entries = AccessAudit.objects.for_organization(
        access.patient.organization_id
    ).filter(patient=access.patient)
    if not access.sees_hidden_items:
        patient = access.patient
        hidden = inbox_hidden_public_ids(patient=patient)
        hidden |= _hidden_appointment_ids(patient)
        if hidden:
            names_hidden = Q()
            for public_id in hidden:
                names_hidden |= Q(detail__contains=str(public_id))
            entries = entries.exclude(names_hidden)
    return entries.order_by("-occurred_at", "-id")


def export_for(*, access: PortalAccess, document: dict[str, Any]) -> dict[str, Any]:
    """The JSON export (``consent.gdpr.export.export_patient``) as this
    request may see it: for a caregiver who does not see hidden items,
    without the hidden appointments and messages, nor the sends and
    access-audit entries about them. Changes ``document`` in place."""
    if access.sees_hidden_items:
        return document
    patient = access.patient
    messages = inbox_hidden_public_ids(patient=patient)
    appointments = _hidden_appointment_ids(patient)
    names = {str(i) for i in messages | appointments}
    sends = {
        (r.topic.slug, r.channel, r.sent_at.isoformat())
        for r in _hidden_send_records(patient, messages)
    }

    def drop(section: str, row_hidden: Callable[[dict], bool]) -> None:
        if isinstance(document.get(section), list):
            document[section] = [r for r in document[section] if not row_hidden(r)]

    drop("appointments", lambda row: row.get("public_id") in names)
    drop("messages", lambda row: row.get("public_id") in names)
    drop(
        "communications",
        lambda row: (row.get("topic"), row.get("channel"), row.get("sent_at")) in sends,
    )
    drop("access_audit", lambda row: any(n in row.get("detail", "") for n in names))
    return document


def export_fhir_for(*, access: PortalAccess, bundle: dict[str, Any]) -> dict[str, Any]:
    """The FHIR Bundle export as this request may see it: without the
    resources about hidden items, as ``export_for``. Changes ``bundle`` in
    place."""
    if access.sees_hidden_items:
        return bundle
    patient = access.patient
    messages = inbox_hidden_public_ids(patient=patient)
    names = {str(i) for i in messages | _hidden_appointment_ids(patient)}
    names |= {
        str(send_record_public_id(r)) for r in _hidden_send_records(patient, messages)
    }
    bundle["entry"] = [
        entry
        for entry in bundle.get("entry", [])
        if str(entry.get("resource", {}).get("id")) not in names
    ]
    return bundle
