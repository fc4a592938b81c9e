"""``/api/v1/patients/``: list, read, create, update, upsert by identifier."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.db import transaction

from api.filters import UpdatedSinceFilter
from api.problems import Conflict
from api.scopes import Scope
from api.serializers.patients import PatientSerializer, PatientUpsertSerializer
from api.views.base import ApiGenericViewSet
from clinic.models import Patient
from clinic.services import patient_create, patient_update


@extend_schema(tags=["patients"])
class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiGenericViewSet,
):
    read_scope = Scope.PATIENTS_READ
    write_scope = Scope.PATIENTS_WRITE
    serializer_class = PatientSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        queryset = Patient.objects.for_organization(self.organization)
        identifier = self.request.query_params.get("identifier")
        if identifier:
            queryset = queryset.filter(identifier=identifier)
        return queryset

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            self.audit_read(page, "API: patient list")
        return page

    def retrieve(self, request, *args, **kwargs):
        patient = self.get_object()
        self.audit_read(patient, "API: patient")
        return Response(self.get_serializer(patient).data)

    @extend_schema(
        request=PatientSerializer,
        responses={201: PatientSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self._identifier_free(serializer.validated_data.get("identifier"))
        patient = patient_create(
            organization=self.organization, **serializer.validated_data
        )
        return Response(
            self.get_serializer(patient).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=PatientSerializer,
        responses={200: PatientSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        patient = self.get_object()
        serializer = self.get_serializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self._identifier_free(serializer.validated_data.get("identifier"), patient)
        patient = patient_update(patient=patient, **serializer.validated_data)
        return Response(self.get_serializer(patient).data)

    def _identifier_free(self, identifier: str | None, patient=None) -> None:
        """409 when another patient of the organization has ``identifier``:
        the request is well formed, the state refuses it (PUT by-identifier
        updates that patient)."""
        if not identifier:
            return
        taken = Patient.objects.for_organization(self.organization).filter(
            identifier=identifier
        )
        if patient is not None:
            taken = taken.exclude(pk=patient.pk)
        if taken.exists():
            raise Conflict(
                "Another patient of this organization has this identifier; "
                "PUT /api/v1/patients/by-identifier/{identifier}/ updates it."
            )

    @extend_schema(
        request=PatientUpsertSerializer,
        responses={200: PatientSerializer, 201: PatientSerializer},
        description="Create the patient with this identifier, or update it: "
        "200 when it existed, 201 when it was created.",
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-identifier/(?P<identifier>[^/]{1,64})",
        serializer_class=PatientUpsertSerializer,
    )
    @transaction.atomic
    def upsert(self, request, identifier: str):
        patient = (
            Patient.objects.for_organization(self.organization)
            .select_for_update()
            .filter(identifier=identifier)
            .first()
        )
        serializer = self.get_serializer(patient, data=request.data)
        serializer.is_valid(raise_exception=True)
        if patient is None:
            patient = patient_create(
                organization=self.organization,
                identifier=identifier,
                **serializer.validated_data,
            )
            created = True
        else:
            patient = patient_update(patient=patient, **serializer.validated_data)
            created = False
        return Response(
            PatientSerializer(patient, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
