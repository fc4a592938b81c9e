"""``/api/v1/conversations/``: a patient's threads with the clinic, and the
clinic's reply, sent through ``message_send`` in the conversation."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.db import transaction
from django.db.models import Prefetch

from api.filters import choice_param
from api.pagination import UpdatedCursorPagination
from api.scopes import Scope
from api.serializers.common import patient_from_query, patient_param
from api.serializers.conversations import (
    ConversationDetailSerializer,
    ConversationReplySerializer,
    ConversationSerializer,
)
from api.serializers.messages import MessageReceiptSerializer
from api.views.base import ApiGenericViewSet
from api.views.messages import message_send_from_api, messages_queryset
from clinic.models import AccessAudit
from conversations.models import Conversation
from conversations.services import conversation_answered
from messaging.models import Message


class LastMessageCursorPagination(UpdatedCursorPagination):
    """Latest activity first. A conversation that gets a new message while a
    client pages moves to the front: a client that wants every change
    restarts from the first page."""

    ordering = ("-last_message_at", "-id")


@extend_schema(tags=["conversations"])
class ConversationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiGenericViewSet,
):
    read_scope = Scope.MESSAGES_READ
    write_scope = Scope.MESSAGES_SEND
    serializer_class = ConversationSerializer
    pagination_class = LastMessageCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        queryset = Conversation.objects.for_organization(
            self.organization
        ).select_related("patient")
        if self.action == "list":
            patient = patient_from_query(self)
            if patient is not None:
                queryset = queryset.filter(patient=patient)
            wanted = choice_param(self.request, "status", Conversation.Status.values)
            if wanted is not None:
                queryset = queryset.filter(status=wanted)
        if self.action == "retrieve":
            thread = messages_queryset(self.organization).order_by("created_at", "id")
            queryset = queryset.prefetch_related(Prefetch("messages", queryset=thread))
        return queryset

    @extend_schema(
        parameters=[
            patient_param("Only this patient's conversations."),
            OpenApiParameter(
                name="status",
                enum=Conversation.Status.values,
                location=OpenApiParameter.QUERY,
                required=False,
                description="Only conversations with this status.",
            ),
        ],
        description="Conversations, latest activity first.",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page:
            self.audit_read([c.patient for c in page], "API: conversation list")
        return page

    @extend_schema(responses={200: ConversationDetailSerializer})
    def retrieve(self, request, *args, **kwargs):
        conversation = self.get_object()
        self.audit_read(
            conversation.patient,
            "API: conversation",
            AccessAudit.Action.VIEW_MESSAGE,
        )
        return Response(ConversationDetailSerializer(conversation).data)

    @extend_schema(
        request=ConversationReplySerializer,
        responses={201: MessageReceiptSerializer},
        description="The clinic's reply to the patient in this conversation: "
        "a message sent like `POST /messages/` (consent decides each channel; "
        "confidential unless `confidential` is false), filed in the "
        "conversation.",
    )
    @action(detail=True, methods=["post"], serializer_class=ConversationReplySerializer)
    @transaction.atomic
    def reply(self, request, **kwargs):
        conversation = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        topic = fields.pop("topic") or self._latest_topic(conversation)
        fields["subject"] = fields["subject"] or conversation.subject
        message = message_send_from_api(
            self,
            patient=conversation.patient,
            topic=topic,
            conversation=conversation,
            **fields,
        )
        # The clinic answered: the SLA clock and the counts see it (insights).
        conversation_answered(conversation=conversation, message=message)
        return Response(
            MessageReceiptSerializer(message).data, status=status.HTTP_201_CREATED
        )

    def _latest_topic(self, conversation: Conversation):
        latest = (
            Message.objects.filter(conversation=conversation)
            .select_related("topic")
            .order_by("-created_at", "-id")
            .first()
        )
        if latest is None:
            raise exceptions.ValidationError(
                {"topic": ["This conversation has no message yet: name the topic."]}
            )
        return latest.topic
