"""QuestionnaireResponse: patients' answers to surveys (``surveys:read``).
An anonymous survey's responses carry no subject and write no access log
(they are nobody's record)."""

from __future__ import annotations

from api.fhir.resources import rest_references, version_id
from api.fhir.search import reference_param
from api.fhir.views.base import FhirInstanceView, FhirTypeView
from api.scopes import Scope
from feedback.fhir import survey_response_to_fhir
from feedback.models import SurveyResponse


class QuestionnaireResponseMixin:
    resource_type = "QuestionnaireResponse"
    read_scope = Scope.SURVEYS_READ

    def queryset(self):
        return (
            SurveyResponse.objects.for_organization(self.organization)
            .select_related(
                "survey__organization", "patient__organization", "invitation"
            )
            .prefetch_related("answers", "survey__questions")
        )

    def to_fhir(self, response: SurveyResponse):
        resource = rest_references(survey_response_to_fhir(response))
        resource["meta"] = {
            "versionId": version_id(response.updated_at),
            "lastUpdated": response.updated_at.isoformat(),
        }
        return resource


class QuestionnaireResponseInstanceView(QuestionnaireResponseMixin, FhirInstanceView):
    pass


class QuestionnaireResponseTypeView(QuestionnaireResponseMixin, FhirTypeView):
    search_params = {
        "patient": reference_param(
            "patient__public_id", "Patient", "The patient: Patient/<id>."
        ),
    }
