from rest_framework import serializers

from api.serializers.common import OrganizationSlugField
from api.serializers.messages import MessageSerializer, TextSerializer
from consent.models import Topic
from conversations.models import Conversation
from messaging.services.replies import REPLY_MAX_LENGTH


class ConversationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "patient", "subject", "status", "last_message_at", "created_at"]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    """A conversation with its messages, oldest first."""

    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]
        read_only_fields = fields


class ConversationReplySerializer(TextSerializer):
    text = serializers.CharField(
        max_length=REPLY_MAX_LENGTH,
        help_text="The clinic's answer to the patient.",
    )
    topic = OrganizationSlugField(
        slug_field="slug",
        queryset=Topic.objects.all(),
        required=False,
        help_text="The topic it is sent on (its consent rules apply); by "
        "default the topic of the conversation's latest message.",
    )

    def validate(self, data: dict) -> dict:
        return {"topic": data.get("topic"), **self._text_options(data)}
