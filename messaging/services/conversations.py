"""Conversations as staff handle them: opened, answered, closed, with their
service levels (first response due and given, replies, reopenings) kept on
the row so the staff queue and the KPI dashboard read them without scanning
messages."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinic.models import Patient, Site, Team
from messaging.models import Conversation


def first_response_due(opened_at: datetime.datetime) -> datetime.datetime:
    return opened_at + datetime.timedelta(
        hours=settings.CONVERSATION_FIRST_RESPONSE_HOURS
    )


@transaction.atomic
def conversation_open(
    *,
    patient: Patient,
    kind: str = Conversation.Kind.QUESTION,
    subject: str = "",
    site: Site | None = None,
    team: Team | None = None,
    channel: str = "inapp",
    awaiting: bool = True,
    now: datetime.datetime | None = None,
) -> Conversation:
    """Open a conversation with ``patient``; ``awaiting`` when the patient
    (or their feedback) waits for an answer, which starts the SLA clock."""
    now = now or timezone.now()
    for related in (site, team):
        if related is not None and related.organization_id != patient.organization_id:
            raise ValueError("The site or team belongs to another organization.")
    return Conversation.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        kind=kind,
        subject=subject[:200],
        site=site,
        team=team,
        channel=channel,
        last_message_at=now,
        awaiting_since=now if awaiting else None,
        first_response_due_at=first_response_due(now) if awaiting else None,
    )
