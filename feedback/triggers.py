"""Surveys that send themselves: after an appointment took place, after a
conversation was closed, after a campaign reached the patient. Registered with
``core.scheduler.register_due`` (its finder, ``surveys``, is its own
schedule).

Each trigger invites once: the invitation is unique per survey, patient and
trigger (``appointment:<pk>``, ``campaign:<campaign pk>``), so two worker
clusters running the job at the same time plan it once (the second insert
fails and is skipped). Only events of the last ``LOOKBACK`` are considered, so
a survey created today does not write to every patient seen in past years.
A run invites at most ``BATCH`` patients per survey: a campaign of 100,000
patients is spread over runs, and each run reads only its batch.
"""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from clinic.models import Appointment, AppointmentStatus, Patient
from core import hooks
from feedback.models import Survey, SurveyInvitation
from feedback.services import open_complaints, survey_invite
from messaging.models import Conversation

logger = logging.getLogger(__name__)
LOOKBACK = datetime.timedelta(days=7)
BATCH = 200


def _not_invited(survey: Survey, prefix: str):
    return ~Exists(
        SurveyInvitation.objects.filter(
            survey=survey,
            patient_id=OuterRef("patient_id"),
            trigger_ref=Concat(Value(prefix), Cast(OuterRef("pk"), CharField())),
        )
    )


def _without_open_complaint():
    return ~Exists(open_complaints().filter(patient_id=OuterRef("patient_id")))


def _campaign_recipients(survey: Survey, due_before: datetime.datetime):
    """The survey's campaign's recipients its message reached between
    ``LOOKBACK`` and the delay ago, not yet invited for it, without an open
    complaint nor an erased identity: the first ``BATCH``, as (patient, site,
    trigger). Campaigns answers (``campaigns.reached``, through
    ``core.hooks``); without the campaigns app, nobody."""
    recipients_reached = hooks.provider("campaigns.recipients_reached")
    if recipients_reached is None:
        return []
    patient_ref = OuterRef("patient_id")
    trigger_ref = f"campaign:{survey.campaign_id}"
    reached = recipients_reached(
        survey.campaign_id,
        sent_after=due_before - LOOKBACK,
        sent_before=due_before,
        without={
            "invited": SurveyInvitation.objects.filter(
                survey=survey, patient_id=patient_ref, trigger_ref=trigger_ref
            ),
            "complaint": open_complaints().filter(patient_id=patient_ref),
            "erased": Patient.objects.filter(pk=patient_ref, erased_at__isnull=False),
        },
        limit=BATCH,
    )
    return [(patient, site, trigger_ref) for patient, site in reached]


def _invite(survey: Survey, invitees, now: datetime.datetime) -> int:
    """Invite each (patient, site, trigger) of ``invitees``; returns how many."""
    sent = 0
    for patient, site, trigger_ref in invitees:
        try:
            survey_invite(
                survey=survey,
                patient=patient,
                trigger_ref=trigger_ref,
                site=site,
                now=now,
            )
            sent += 1
        except ValidationError as error:  # erased patient, complaint opened meanwhile
            logger.info("survey %s not sent: %s", survey.pk, error.messages[0])
    return sent


def surveys_invite_due(now: datetime.datetime) -> int:
    """Invite every patient whose trigger is due; returns invitations made."""
    made = 0
    surveys = Survey.objects.filter(is_active=True).exclude(
        trigger=Survey.Trigger.MANUAL
    )
    for survey in surveys.select_related("organization"):
        due_before = now - datetime.timedelta(hours=survey.trigger_delay_hours)
        if survey.trigger == Survey.Trigger.CAMPAIGN:
            # No campaign: it was deleted since (SET_NULL), nobody to invite.
            if survey.campaign_id is not None:
                made += _invite(survey, _campaign_recipients(survey, due_before), now)
            continue
        if survey.trigger == Survey.Trigger.APPOINTMENT_FULFILLED:
            prefix = "appointment:"
            rows = Appointment.objects.filter(
                organization_id=survey.organization_id,
                status=AppointmentStatus.FULFILLED,
                ends_at__lte=due_before,
                ends_at__gt=due_before - LOOKBACK,
                patient__erased_at__isnull=True,
            )
        else:
            prefix = "conversation:"
            rows = Conversation.objects.filter(
                organization_id=survey.organization_id,
                status=Conversation.Status.CLOSED,
                closed_at__lte=due_before,
                closed_at__gt=due_before - LOOKBACK,
                patient__erased_at__isnull=True,
            ).exclude(kind=Conversation.Kind.COMPLAINT)
        rows = (
            rows.filter(_not_invited(survey, prefix), _without_open_complaint())
            .select_related("patient", "site")
            .order_by("pk")[:BATCH]
        )
        invitees = ((row.patient, row.site, f"{prefix}{row.pk}") for row in rows)
        made += _invite(survey, invitees, now)
    return made
