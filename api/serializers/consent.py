import datetime

from rest_framework import serializers

from django.utils import timezone

from api.serializers.common import (
    AwareDateTimeField,
    OrganizationPublicIdField,
    OrganizationSlugField,
    StrictBooleanField,
    StrictInputMixin,
)
from clinic.models import Patient
from consent.models import ConsentEvent, Topic
from consent.vocabulary import Channel, LawfulBasis, Outcome, Purpose, Reason

# How far ahead of this server's clock a partner's "now" may be.
CLOCK_SKEW = datetime.timedelta(minutes=5)


class WhySerializer(StrictInputMixin, serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices)
    consent_event = serializers.UUIDField(
        allow_null=True, help_text="The opt-in behind it, if any."
    )
    description = serializers.CharField(
        help_text="In the patient's language, as the portal shows it."
    )


class DecisionSerializer(StrictInputMixin, serializers.Serializer):
    """What consent answers for a message on this topic and channel now."""

    topic = serializers.CharField(help_text="The topic's slug.")
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    reason = serializers.ChoiceField(
        choices=Reason.choices,
        allow_null=True,
        help_text="Why it is deferred or not sent.",
    )
    reason_label = serializers.CharField(help_text="The reason in words.")
    until = serializers.DateTimeField(
        allow_null=True, help_text="Deferred: the first moment it may be sent."
    )
    why = WhySerializer(
        allow_null=True, help_text="Allowed or deferred: why the patient gets it."
    )


class DecisionsSerializer(StrictInputMixin, serializers.Serializer):
    patient = serializers.UUIDField()
    at = serializers.DateTimeField()
    decisions = DecisionSerializer(many=True)


class ConsentEventSerializer(StrictInputMixin, serializers.ModelSerializer):
    """One event of the consent ledger (append-only)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = OrganizationPublicIdField(queryset=Patient.objects.all())
    topic = OrganizationSlugField(
        slug_field="slug",
        queryset=Topic.objects.all(),
        required=False,
        allow_null=True,
        help_text="The topic's slug; give a topic or a purpose.",
    )
    granted = StrictBooleanField(help_text="true: consent given; false: withdrawn.")
    occurred_at = AwareDateTimeField(
        required=False, help_text="When the patient decided; now by default."
    )

    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "patient",
            "topic",
            "purpose",
            "channel",
            "granted",
            "source",
            "actor_label",
            "wording_version",
            "ip_address",
            "user_agent",
            "evidence",
            "occurred_at",
        ]
        read_only_fields = ["source", "actor_label"]
        extra_kwargs = {
            "purpose": {"help_text": "The purpose; give a purpose or a topic."},
            "ip_address": {"help_text": "Where the patient gave it, if known."},
            "user_agent": {"help_text": "The patient's browser, if known."},
            "evidence": {
                "help_text": "Anything else that proves it (form id, recording…)."
            },
        }
        # The ledger's own rules are checked by consent_record.
        validators = []

    def validate_occurred_at(self, moment: datetime.datetime) -> datetime.datetime:
        # The latest event wins: one dated in the future would override every
        # choice the patient makes until then.
        if moment > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("This moment is in the future.")
        return moment
