"""Inviting patients to surveys and keeping their answers."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from clinic.models import Patient, Site
from conversations.models import Conversation
from feedback.followups import follow_up_open, response_is_detractor
from feedback.models import Answer, Question, Survey, SurveyInvitation, SurveyResponse
from feedback.signals import survey_completed
from feedback.tokens import InvitationTokenError, invitation_url
from messaging.models import Message
from messaging.services import message_send

TEXT_MAX_LENGTH = 2000
OPEN = (Conversation.Status.OPEN, Conversation.Status.PENDING)


def open_complaints() -> QuerySet[Conversation]:
    return Conversation.objects.filter(
        kind=Conversation.Kind.COMPLAINT, status__in=OPEN
    )


def patient_has_open_complaint(patient: Patient) -> bool:
    return open_complaints().filter(patient=patient).exists()


@transaction.atomic
def survey_invite(
    *,
    survey: Survey,
    patient: Patient,
    trigger_ref: str = "",
    site: Site | None = None,
    now: datetime.datetime | None = None,
) -> SurveyInvitation:
    """Invite ``patient`` to ``survey`` through the messaging pipeline.

    The survey's feedback topic decides channels and consent, including "not
    asked again within N days" (the organization's survey period, a rule of
    ``consent.decide``): an invitation may be planned and then suppressed, and
    the delivery log says why. One invitation per ``trigger_ref``: calling
    again for the same trigger returns the first.
    """
    if survey.organization_id != patient.organization_id:
        raise ValidationError(
            "The survey and the patient belong to different organizations."
        )
    if not survey.is_active:
        raise ValidationError(f"The survey {survey.name!r} is not active.")
    if patient.erased_at is not None:
        raise ValidationError("This patient's identity was erased.")
    if patient_has_open_complaint(patient):
        raise ValidationError(
            "This patient has an open complaint: no survey until it is closed.",
            code="open_complaint",
        )
    now = now or timezone.now()
    invitation = SurveyInvitation(
        organization_id=survey.organization_id,
        survey=survey,
        patient=patient,
        trigger_ref=trigger_ref,
        site=site,
        created_at=now,
        expires_at=now + datetime.timedelta(days=survey.link_valid_days),
    )
    if trigger_ref:
        try:
            with transaction.atomic():
                invitation.save()
        except IntegrityError:
            return SurveyInvitation.objects.get(
                survey=survey, patient=patient, trigger_ref=trigger_ref
            )
    else:
        invitation.save()
    invitation.message = message_send(
        patient=patient,
        topic=survey.topic,
        origin=Message.Origin.SYSTEM,
        origin_ref=f"survey:{invitation.public_id}",
        context={"survey_link": settings.SITE_URL + invitation_url(invitation)},
        idempotency_key=f"survey-invitation:{invitation.public_id}",
        at=now,
    )
    invitation.save(update_fields=["message"])
    return invitation


def _clean_value(question: Question, value: Any) -> dict[str, Any] | None:
    """The Answer fields for ``value``, None when unanswered; ValueError if invalid."""
    if value in (None, "", []):
        return None
    kind = question.kind
    if kind in Question.SCALES:
        low, high = Question.SCALES[kind]
        score = int(value)
        if not low <= score <= high:
            raise ValueError(f"Give a score from {low} to {high}.")
        return {"score": score}
    if kind == Question.Kind.TEXT:
        text = str(value).strip()
        if len(text) > TEXT_MAX_LENGTH:
            raise ValueError(f"At most {TEXT_MAX_LENGTH} characters.")
        return {"text": text} if text else None
    allowed = {str(choice["value"]) for choice in question.choices}
    picked = [value] if isinstance(value, str) else list(value)
    picked = [str(item) for item in picked]
    if not set(picked) <= allowed:
        raise ValueError("Choose among the listed answers.")
    if kind == Question.Kind.SINGLE and len(picked) != 1:
        raise ValueError("Choose one answer.")
    return {"choices": picked}


def _day(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@transaction.atomic
def response_submit(
    *,
    invitation: SurveyInvitation,
    answers: dict[int, Any],
    now: datetime.datetime | None = None,
) -> SurveyResponse:
    """Keep the answers to an invitation (by question id); once only.

    Unanswered optional questions leave the response partial (``complete``
    false): what was answered is kept. Raises ValidationError (keyed
    ``q<question id>``) for an invalid or missing required answer, and
    InvitationTokenError("used") when the invitation was already answered,
    even by a concurrent request.
    """
    now = now or timezone.now()
    invitation = (
        SurveyInvitation.objects.select_for_update()
        .select_related("survey")
        .get(pk=invitation.pk)
    )
    if invitation.answered_at is not None:
        raise InvitationTokenError("used")
    if now >= invitation.expires_at:
        raise InvitationTokenError("expired")
    survey = invitation.survey
    questions = list(survey.questions.all())
    cleaned, errors = {}, {}
    for question in questions:
        try:
            fields = _clean_value(question, answers.get(question.pk))
        except (TypeError, ValueError) as error:
            errors[f"q{question.pk}"] = str(error)
            continue
        if fields is None and question.required:
            errors[f"q{question.pk}"] = "This question needs an answer."
        elif fields is not None:
            cleaned[question.pk] = fields
    if errors:
        raise ValidationError(errors)
    response = SurveyResponse.objects.create(
        organization_id=invitation.organization_id,
        survey=survey,
        patient=None if survey.anonymous else invitation.patient,
        invitation=None if survey.anonymous else invitation,
        # An exact time would match the invitation's answered_at: the day only.
        submitted_at=_day(now) if survey.anonymous else now,
        complete=len(cleaned) == len(questions),
    )
    Answer.objects.bulk_create(
        Answer(response=response, question_id=question_id, **fields)
        for question_id, fields in cleaned.items()
    )
    invitation.answered_at = now
    invitation.save(update_fields=["answered_at"])
    if response_is_detractor(response):
        follow_up_open(response)
    transaction.on_commit(
        lambda: survey_completed.send(sender=SurveyResponse, response=response)
    )
    return response
