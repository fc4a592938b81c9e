from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from api.serializers.common import ReadFieldsBuiltOnce, StrictInputMixin
from clinic.models import Patient


class PatientSerializer(
    StrictInputMixin, ReadFieldsBuiltOnce, serializers.ModelSerializer
):
    id = serializers.UUIDField(source="public_id", read_only=True)
    phone = PhoneNumberField(required=False, allow_blank=True)
    erased = serializers.SerializerMethodField()

    class Meta:
        model = Patient
        fields = [
            "id",
            "identifier",
            "given_name",
            "family_name",
            "birth_date",
            "preferred_language",
            "time_zone",
            "email",
            "phone",
            "phone_is_mobile",
            "erased",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["phone_is_mobile", "created_at", "updated_at"]
        extra_kwargs = {
            # Empty means the organization's own (patient_save fills them in).
            "preferred_language": {"required": False},
            "time_zone": {"required": False},
        }

    def get_erased(self, patient: Patient) -> bool:
        return patient.erased_at is not None


class PatientUpsertSerializer(PatientSerializer):
    """The body of ``PUT /patients/by-identifier/{identifier}/``: the
    identifier comes from the URL."""

    class Meta(PatientSerializer.Meta):
        read_only_fields = [*PatientSerializer.Meta.read_only_fields, "identifier"]
