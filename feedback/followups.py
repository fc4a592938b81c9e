"""Closing the loop: an unhappy answer opens a conversation with the patient,
assigned to the support team of the site where it happened."""

from __future__ import annotations

from django.utils.translation import gettext, override

from clinic.models import Team
from conversations.models import Conversation
from conversations.services import conversation_open
from feedback.models import Question, SurveyResponse

# NPS detractors answer 0–6; CSAT 1–2 is "dissatisfied".
DETRACTOR_MAX = {Question.Kind.NPS: 6, Question.Kind.CSAT: 2}


def response_is_detractor(response: SurveyResponse) -> bool:
    return any(
        answer.score is not None
        and answer.score <= DETRACTOR_MAX.get(answer.question.kind, -1)
        for answer in response.answers.select_related("question")
    )


def support_team(response: SurveyResponse) -> Team | None:
    """The feedback team of the site where it happened, else the organization's."""
    invitation = response.invitation
    teams = Team.objects.for_organization(response.organization_id).filter(
        handles_feedback=True
    )
    if invitation is not None and invitation.site_id:
        team = teams.filter(site_id=invitation.site_id).first()
        if team is not None:
            return team
    return teams.filter(site__isnull=True).first()


def follow_up_open(response: SurveyResponse, *, flagged_by=None) -> Conversation | None:
    """Open (once) the follow-up conversation of a response; None for an
    anonymous response, which has nobody to follow up with."""
    if response.follow_up_id:
        return response.follow_up
    if response.patient_id is None:
        return None
    patient = response.patient
    team = support_team(response)
    with override(patient.preferred_language):
        subject = gettext("About your answers to “%(survey)s”") % {
            "survey": response.survey.title(patient.preferred_language)
        }
    conversation = conversation_open(
        patient=patient,
        kind=Conversation.Kind.FOLLOW_UP,
        subject=subject,
        site=response.invitation.site if response.invitation else None,
        team=team,
    )
    response.follow_up = conversation
    fields = ["follow_up"]
    if flagged_by is not None:
        response.flagged_by = flagged_by
        fields.append("flagged_by")
    response.save(update_fields=fields)
    return conversation
