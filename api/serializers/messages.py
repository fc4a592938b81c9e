from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.common import (
    OrganizationPublicIdField,
    OrganizationSlugField,
    ReadFieldsBuiltOnce,
    StrictBooleanField,
    StrictInputMixin,
)
from clinic.models import Patient
from consent.models import Topic
from messaging.content import MessageContentError, context_for
from messaging.models import Delivery, Message, Sensitivity
from messaging.services.replies import REPLY_MAX_LENGTH


class DeliverySerializer(ReadFieldsBuiltOnce, serializers.ModelSerializer):
    """The message on one channel: what happened to it, and why when it was
    not sent (``reason``, one of consent's and the pipeline's words)."""

    reason_label = serializers.CharField(
        read_only=True, help_text="The reason in words (empty when there is none)."
    )

    class Meta:
        model = Delivery
        fields = [
            "channel",
            "status",
            "reason",
            "reason_label",
            "next_attempt_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "next_attempt_at": {
                "help_text": "When it is due; for a deferred delivery, the first "
                "moment consent allows (quiet hours…)."
            }
        }


class MessageSerializer(ReadFieldsBuiltOnce, serializers.ModelSerializer):
    """A message with its deliveries. ``body`` is the full text, as the
    patient's secure inbox shows it; a confidential message's text never left
    the inbox (its other channels carried a notice)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    topic = serializers.CharField(source="topic.slug", read_only=True)
    conversation = serializers.SerializerMethodField()
    confidential = serializers.SerializerMethodField()
    # Plain text: the choice set is already named by the patients' schema.
    language = serializers.CharField(read_only=True, help_text="fr or en.")
    # In the order they were planned (the inbox first), prefetched or not.
    deliveries = DeliverySerializer(
        many=True, read_only=True, source="deliveries_in_order"
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "patient",
            "topic",
            "conversation",
            "origin",
            "direction",
            "confidential",
            "language",
            "subject",
            "body",
            "created_at",
            "read_at",
            "deliveries",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_conversation(self, message: Message) -> str | None:
        if message.conversation is None:
            return None
        return str(message.conversation.public_id)

    def get_confidential(self, message: Message) -> bool:
        return message.sensitivity == Sensitivity.CONFIDENTIAL


class MessageReceiptSerializer(MessageSerializer):
    """The answer to a send: the message and its planned deliveries, without
    its text (the caller has it; answers are kept a day for Idempotency-Key
    replays, and the text may be clinical)."""

    class Meta(MessageSerializer.Meta):
        fields = [
            f for f in MessageSerializer.Meta.fields if f not in ("subject", "body")
        ]
        read_only_fields = fields


class TextSerializer(StrictInputMixin, serializers.Serializer):
    """Free text, shared by a send and a reply."""

    text = serializers.CharField(
        max_length=REPLY_MAX_LENGTH,
        required=False,
        help_text="The message itself, instead of the topic's templates.",
    )
    subject = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="With `text` only (email subject, inbox title).",
    )
    confidential = StrictBooleanField(
        required=False,
        help_text="With `text` only; true by default: the text stays in the "
        "secure inbox and the other channels carry a notice with the "
        "authenticity code. Set false only for text without health data.",
    )

    def _text_options(self, data: dict) -> dict:
        """Subject and confidentiality only go with text: a template brings
        its own subject and sensitivity."""
        if data.get("text"):
            return {
                "text": data["text"],
                "subject": data.get("subject", ""),
                "confidential": data.get("confidential", True),
            }
        errors = {
            name: ["Only with `text`: a template has its own."]
            for name in ("subject", "confidential")
            if name in self.initial_data
        }
        if errors:
            raise serializers.ValidationError(errors)
        return {}


class MessageSendSerializer(TextSerializer):
    patient = OrganizationPublicIdField(queryset=Patient.objects.all())
    topic = OrganizationSlugField(
        slug_field="slug",
        queryset=Topic.objects.all(),
        help_text="The topic's slug: it decides consent, and its templates "
        "the text unless `text` is given.",
    )
    context = serializers.DictField(
        required=False,
        help_text="Values for the templates' variables (plain text or numbers).",
    )

    def validate(self, data: dict) -> dict:
        options = self._text_options(data)
        if options and "context" in self.initial_data:
            raise serializers.ValidationError(
                {"context": ["Give either `text` or a template `context`, not both."]}
            )
        if not options:
            try:
                context_for(data["patient"], data.get("context"))
            except MessageContentError as exc:
                raise serializers.ValidationError({"context": [str(exc)]}) from None
            options = {"context": data.get("context") or {}}
        return {"patient": data["patient"], "topic": data["topic"], **options}
