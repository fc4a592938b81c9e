"""Feedback's part of a patient's GDPR export and erasure (registered with
``consent.gdpr.registry`` in ``FeedbackConfig.ready``). Anonymous responses
are nobody's: they are neither exported nor erased with a patient."""

from __future__ import annotations

from typing import Any

from clinic.models import Patient


def _responses(patient: Patient):
    from feedback.models import SurveyResponse

    return (
        SurveyResponse.objects.filter(patient=patient)
        .select_related("survey", "patient", "survey__organization")
        .prefetch_related("answers", "survey__questions")
        .order_by("submitted_at", "id")
    )


def responses_export(patient: Patient) -> list[dict[str, Any]]:
    return [
        {
            "public_id": str(response.public_id),
            "survey": response.survey.title(patient.preferred_language),
            "submitted_at": response.submitted_at.isoformat(),
            "complete": response.complete,
            "answers": [
                {
                    "question": answer.question.text(patient.preferred_language),
                    "score": answer.score,
                    "choices": answer.choices,
                    "text": answer.text,
                }
                for answer in response.answers.all()
            ],
        }
        for response in _responses(patient)
    ]


def responses_fhir(patient: Patient) -> list[dict[str, Any]]:
    from feedback.fhir import survey_response_to_fhir

    return [survey_response_to_fhir(response) for response in _responses(patient)]


def responses_erase(patient: Patient) -> int:
    """Keep scores and choices for the clinic's statistics, unlinked from the
    patient; drop free text (it may name them) and their invitations."""
    from feedback.models import Answer, SurveyInvitation, SurveyResponse

    responses = SurveyResponse.objects.filter(patient=patient)
    texts = (
        Answer.objects.filter(response__in=responses).exclude(text="").update(text="")
    )
    unlinked = responses.update(patient=None, invitation=None)
    invitations, _ = SurveyInvitation.objects.filter(patient=patient).delete()
    return texts + unlinked + invitations
