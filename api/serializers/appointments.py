from rest_framework import serializers

from api.serializers.common import (
    AwareDateTimeField,
    OrganizationPublicIdField,
    StrictInputMixin,
)
from clinic.models import Appointment, Patient, Site, StaffMember


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

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "site",
            "practitioner",
            "kind",
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
