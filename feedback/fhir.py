"""Survey responses as FHIR R4 QuestionnaireResponse (validated as R4B, see
``clinic.fhir`` for why R4B validates the R4 JSON we serve)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as FhirQuestionnaireResponse,
)

from clinic.fhir import (
    fhir_datetime,
    fhir_validate,
    organization_system,
    patient_reference,
)
from feedback.models import Question, SurveyResponse


def questionnaire_canonical(response: SurveyResponse) -> str:
    """The survey's canonical URL: Liaison serves no Questionnaire resource yet."""
    survey = response.survey
    return f"urn:uuid:{survey.public_id}"


def _answer(question: Question, answer) -> list[dict[str, Any]]:
    if answer.score is not None:
        return [{"valueInteger": answer.score}]
    if answer.choices:
        labels = dict(question.choice_labels("en"))
        system = organization_system(
            question.survey.organization, f"survey-{question.survey.public_id}"
        )
        return [
            {
                "valueCoding": {
                    "system": system,
                    "code": value,
                    "display": labels.get(value, value),
                }
            }
            for value in answer.choices
        ]
    return [{"valueString": answer.text}] if answer.text else []


def survey_response_to_fhir(response: SurveyResponse) -> dict[str, Any]:
    """The response with its answers; no subject for an anonymous survey."""
    answers = {a.question_id: a for a in response.answers.all()}
    items = []
    for question in response.survey.questions.all():
        item: dict[str, Any] = {"linkId": str(question.pk), "text": question.text("en")}
        answer = answers.get(question.pk)
        values = _answer(question, answer) if answer else []
        if values:
            item["answer"] = values
        items.append(item)
    data: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.public_id),
        "questionnaire": questionnaire_canonical(response),
        "status": "completed" if response.complete else "in-progress",
        "authored": fhir_datetime(response.submitted_at),
        "item": items,
    }
    if response.patient_id:
        data["subject"] = patient_reference(response.patient)
        data["source"] = patient_reference(response.patient)
    return fhir_validate(FhirQuestionnaireResponse, data)
