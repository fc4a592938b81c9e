"""Webhook subscriptions and their delivery log, as the API shows them."""

from rest_framework import serializers

from api.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from api.serializers.common import StrictBooleanField, StrictInputMixin


class WebhookSubscriptionSerializer(StrictInputMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        # What allow_empty says, in the schema too (drf-spectacular reads it
        # from min_length only).
        min_length=1,
        help_text="Events to receive (docs/api.md#webhooks).",
    )
    active = StrictBooleanField(
        source="is_active",
        required=False,
        help_text="False stops deliveries; true again clears a flag.",
    )
    secret_hint = serializers.CharField(
        read_only=True, help_text="The secret's last four characters, to tell it apart."
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "events",
            "active",
            "flagged_at",
            "flagged_reason",
            "secret_hint",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["flagged_at", "flagged_reason", "created_at", "updated_at"]
        extra_kwargs = {
            "url": {"help_text": "https, on a public address (checked at every send)."}
        }


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every delivery (Liaison-Signature). Shown this once.",
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(
        source="public_id",
        read_only=True,
        help_text="Sent as Liaison-Delivery, the same on every retry.",
    )
    replay_of = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "response_code",
            "error",
            "delivered_at",
            "created_at",
            "replay_of",
            "payload",
        ]
        read_only_fields = fields
