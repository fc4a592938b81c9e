"""``/api/v1/appointments/``: list, read, book, move, confirm, cancel, upsert
by the booking system's id. Reminders follow on their own: every write goes
through ``clinic.services.appointment_save`` or ``clinic.appointments.actions``, which
send ``appointment_changed``."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.db import transaction

from api.filters import UpdatedSinceFilter, choice_param
from api.scopes import Scope
from api.serializers.appointments import (
    AppointmentCancelSerializer,
    AppointmentSerializer,
    AppointmentUpsertSerializer,
)
from api.serializers.common import patient_from_query, patient_param
from api.views.base import ApiGenericViewSet
from clinic.appointments.actions import appointment_cancel, appointment_confirm
from clinic.models import Appointment, AppointmentStatus
from clinic.services import appointment_create, appointment_save

STATUS_PARAM = OpenApiParameter(
    name="status",
    enum=AppointmentStatus.values,
    location=OpenApiParameter.QUERY,
    required=False,
    description="Only appointments with this status.",
)


@extend_schema(tags=["appointments"])
class AppointmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiGenericViewSet,
):
    read_scope = Scope.PATIENTS_READ
    write_scope = Scope.APPOINTMENTS_WRITE
    serializer_class = AppointmentSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        queryset = Appointment.objects.for_organization(
            self.organization
        ).select_related("patient", "site", "practitioner")
        if self.action == "list":
            patient = patient_from_query(self)
            if patient is not None:
                queryset = queryset.filter(patient=patient)
            wanted = choice_param(self.request, "status", AppointmentStatus.values)
            if wanted is not None:
                queryset = queryset.filter(status=wanted)
        return queryset

    def _locked(self) -> Appointment:
        """The appointment of the URL, locked until the request's end."""
        appointment = self.get_object()
        return Appointment.objects.select_for_update().get(pk=appointment.pk)

    @extend_schema(
        parameters=[
            patient_param("Only this patient's appointments."),
            STATUS_PARAM,
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            self.audit_read([a.patient for a in page], "API: appointment list")
        return page

    def retrieve(self, request, *args, **kwargs):
        appointment = self.get_object()
        self.audit_read(appointment.patient, "API: appointment")
        return Response(self.get_serializer(appointment).data)

    @extend_schema(
        request=AppointmentSerializer,
        responses={201: AppointmentSerializer},
        description="Book an appointment (status `booked`); the patient's "
        "reminders are planned at once.",
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        appointment = appointment_create(
            patient=fields.pop("patient"), site=fields.pop("site"), **fields
        )
        return Response(
            self.get_serializer(appointment).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=AppointmentSerializer,
        responses={200: AppointmentSerializer},
        description="Move it (times), or change its site, practitioner, kind or "
        "external id; pending reminders follow. The patient cannot change.",
    )
    @transaction.atomic
    def partial_update(self, request, *args, **kwargs):
        appointment = self._locked()
        serializer = self.get_serializer(appointment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        for name, value in serializer.validated_data.items():
            setattr(appointment, name, value)
        appointment = appointment_save(appointment=appointment)
        return Response(self.get_serializer(appointment).data)

    @extend_schema(
        request=AppointmentCancelSerializer,
        responses={200: AppointmentSerializer},
        description="Cancel a booked or confirmed appointment that has not "
        "started; its pending reminders are cancelled. 409 otherwise.",
    )
    @action(detail=True, methods=["post"], serializer_class=AppointmentCancelSerializer)
    def cancel(self, request, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        appointment = appointment_cancel(
            appointment=self.get_object(), reason=serializer.validated_data["reason"]
        )
        return Response(self._output(appointment))

    @extend_schema(
        request=None,
        responses={200: AppointmentSerializer},
        description="Confirm a booked appointment that has not started. 409 "
        "otherwise (already confirmed, cancelled or past).",
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, **kwargs):
        appointment = appointment_confirm(appointment=self.get_object())
        return Response(self._output(appointment))

    @extend_schema(
        request=AppointmentUpsertSerializer,
        responses={200: AppointmentSerializer, 201: AppointmentSerializer},
        description="Create the appointment with this external id (the booking "
        "system's), or update it: 200 when it existed, 201 when it was created. "
        "The status is left as it is; cancel and confirm have their own "
        "endpoints.",
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-external-id/(?P<external_id>[^/]{1,128})",
        serializer_class=AppointmentUpsertSerializer,
    )
    @transaction.atomic
    def upsert(self, request, external_id: str):
        appointment = (
            Appointment.objects.for_organization(self.organization)
            .select_for_update()
            .filter(external_id=external_id)
            .first()
        )
        serializer = self.get_serializer(appointment, data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if appointment is None:
            appointment = appointment_create(
                patient=fields.pop("patient"),
                site=fields.pop("site"),
                external_id=external_id,
                **fields,
            )
            created = True
        else:
            for name, value in fields.items():
                setattr(appointment, name, value)
            appointment = appointment_save(appointment=appointment)
            created = False
        return Response(
            self._output(appointment),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def _output(self, appointment: Appointment) -> dict:
        return AppointmentSerializer(
            appointment, context=self.get_serializer_context()
        ).data
