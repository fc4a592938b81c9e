"""``/api/v1/surveys/`` and ``/api/v1/survey-responses/``: read-only, so a
CRM can follow satisfaction. Anonymous responses come without a patient."""

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins

from api.filters import UpdatedSinceFilter
from api.scopes import Scope
from api.serializers.common import object_from_query, patient_from_query, patient_param
from api.serializers.surveys import SurveyResponseSerializer, SurveySerializer
from api.views.base import ApiGenericViewSet
from feedback.models import Survey, SurveyResponse


@extend_schema(tags=["surveys"])
class SurveyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiGenericViewSet
):
    read_scope = Scope.SURVEYS_READ
    serializer_class = SurveySerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        return Survey.objects.for_organization(self.organization).prefetch_related(
            "questions"
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            patient_param("Only this patient's responses."),
            OpenApiParameter(
                "survey",
                uuid.UUID,
                description="Only this survey's responses (its id).",
            ),
        ]
    )
)
@extend_schema(tags=["surveys"])
class SurveyResponseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiGenericViewSet
):
    read_scope = Scope.SURVEYS_READ
    serializer_class = SurveyResponseSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        queryset = (
            SurveyResponse.objects.for_organization(self.organization)
            .select_related("survey", "patient")
            .prefetch_related("answers")
        )
        if self.action == "list":
            patient = patient_from_query(self)
            if patient is not None:
                queryset = queryset.filter(patient=patient)
            survey = object_from_query(
                self, "survey", Survey.objects.all(), label="survey"
            )
            if survey is not None:
                queryset = queryset.filter(survey=survey)
        return queryset

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            self.audit_read(
                [r.patient for r in page if r.patient_id], "API: survey responses"
            )
        return page

    def get_object(self):
        response = super().get_object()
        if response.patient_id:
            self.audit_read(response.patient, "API: survey response")
        return response
