from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.common import (
    AwareDateTimeField,
    OrganizationPublicIdField,
    StrictInputMixin,
)
from clinic.models import Appointment, Patient, Site, StaffMember
from clinic.visit_types import VisitTypeNames


class VisitTypeSerializer(serializers.Serializer):
    """The appointment's kind as the clinic names it (read only)."""

    code = serializers.CharField(help_text="The appointment's `kind`.")
    name_fr = serializers.CharField(
        help_text="The name in French; the kind itself when the clinic's "
        "catalogue of visit types lacks it."
    )
    name_en = serializers.CharField(help_text="The name in English; same fallback.")


class AppointmentSerializer(StrictInputMixin, serializers.ModelSerializer):
    """An appointment; patient, site and practitioner by their ids."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = OrganizationPublicIdField(queryset=Patient.objects.all())
    site = OrganizationPublicIdField(queryset=Site.objects.all())
    practitioner = OrganizationPublicIdField(
        queryset=StaffMember.objects.all(), required=False, allow_null=True
    )
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()
    visit_type = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "site",
            "practitioner",
            "kind",
            "visit_type",
            "preparation_notes",
            "starts_at",
            "ends_at",
            "status",
            "cancellation_reason",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "cancellation_reason", "created_at", "updated_at"]
        # Uniqueness of external_id is checked by appointment_save (full_clean).
        validators = []
        extra_kwargs = {"external_id": {"validators": []}}

    @extend_schema_field(VisitTypeSerializer(allow_null=True))
    def get_visit_type(self, appointment: Appointment) -> dict | None:
        if not appointment.kind:
            return None
        # One catalogue query per request and organization, shared by a
        # list's rows (a list serializer's children share its context).
        key = ("visit_types", appointment.organization_id)
        if key not in self.context:
            self.context[key] = VisitTypeNames.for_organizations(
                [appointment.organization_id]
            )
        names = self.context[key].names(appointment.organization_id, appointment.kind)
        return {
            "code": appointment.kind,
            "name_fr": names["fr"],
            "name_en": names["en"],
        }

    def validate_patient(self, patient: Patient) -> Patient:
        if self.instance is not None and patient.pk != self.instance.patient_id:
            raise serializers.ValidationError(
                "An appointment cannot move to another patient."
            )
        return patient


class AppointmentUpsertSerializer(AppointmentSerializer):
    """The body of ``PUT /appointments/by-external-id/{external_id}/``: the
    external id comes from the URL."""

    class Meta(AppointmentSerializer.Meta):
        read_only_fields = [*AppointmentSerializer.Meta.read_only_fields, "external_id"]


class AppointmentCancelSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it is cancelled, kept for staff; may be clinical.",
    )
