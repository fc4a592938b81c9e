"""``/api/v1/messages/``: send a message to a patient, read messages with
their deliveries (what was sent on which channel, and why not)."""

import hashlib

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from django.db.models import Prefetch

from api.idempotency import HEADER
from api.keys import api_key_purpose_check
from api.pagination import CreatedCursorPagination
from api.problems import Unprocessable
from api.scopes import Scope
from api.serializers.common import patient_from_query, patient_param
from api.serializers.messages import (
    MessageReceiptSerializer,
    MessageSendSerializer,
    MessageSerializer,
)
from api.views.base import ApiGenericViewSet, ApiViewMixin
from clinic.models import AccessAudit
from consent.selectors import topic_resolve
from messaging.models import Delivery, Message
from messaging.services import message_send

MESSAGE_KEY_LENGTH = 200  # Message.idempotency_key


def messages_queryset(organization):
    """An organization's messages, with what their answers show."""
    return (
        Message.objects.for_organization(organization)
        .select_related("patient", "topic", "conversation")
        .prefetch_related(
            Prefetch("deliveries", queryset=Delivery.objects.order_by("id"))
        )
    )


def message_key(view: ApiViewMixin) -> str:
    """The message's idempotency key from the request's Idempotency-Key,
    scoped to the API key as the header is (``message_send`` keeps keys per
    organization, so two keys of one organization must not share one)."""
    raw = view.request.headers.get(HEADER, "")
    if not raw:
        return ""
    key = f"api:{view.api_key.pk}:{raw}"
    if len(key) > MESSAGE_KEY_LENGTH:
        key = f"api:{view.api_key.pk}:sha256:{hashlib.sha256(raw.encode()).hexdigest()}"
    return key


def message_send_from_api(view: ApiViewMixin, **fields) -> Message:
    """``message_send`` for a partner system; the message, re-read with its
    deliveries. A key reused after its replay expired, for another patient,
    is refused rather than answered with the other patient's message; a
    topic of a purpose the key may not send is refused (403)."""
    fields["topic"] = topic_resolve(patient=fields["patient"], topic=fields["topic"])
    api_key_purpose_check(key=view.api_key, purpose=fields["topic"].purpose)
    message = message_send(
        origin=Message.Origin.API,
        origin_ref=view.api_key.actor_label,
        idempotency_key=message_key(view),
        **fields,
    )
    if message.patient_id != fields["patient"].pk:
        raise Unprocessable(
            f"This {HEADER} was already used for another message; "
            "use a new key for a new request."
        )
    return messages_queryset(view.organization).get(pk=message.pk)


@extend_schema(tags=["messages"])
class MessageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiGenericViewSet,
):
    read_scope = Scope.MESSAGES_READ
    write_scope = Scope.MESSAGES_SEND
    serializer_class = MessageSerializer
    pagination_class = CreatedCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        queryset = messages_queryset(self.organization)
        if self.action == "list":
            queryset = queryset.filter(patient=patient_from_query(self, required=True))
        return queryset

    @extend_schema(
        parameters=[patient_param("The patient whose messages to list.", True)],
        description="A patient's messages, both directions, newest first.",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page:
            self.audit_read(
                [m.patient for m in page],
                "API: message list",
                AccessAudit.Action.VIEW_MESSAGE,
            )
        return page

    def retrieve(self, request, *args, **kwargs):
        message = self.get_object()
        self.audit_read(
            message.patient, "API: message", AccessAudit.Action.VIEW_MESSAGE
        )
        return Response(self.get_serializer(message).data)

    @extend_schema(
        request=MessageSendSerializer,
        responses={201: MessageReceiptSerializer},
        description="Send a message to a patient on a topic: the topic's "
        "templates rendered with `context`, or your own `text`. Consent decides "
        "each channel; the answer lists the planned deliveries (queued, deferred "
        "or not sent, with the reason). With an Idempotency-Key the message is "
        "sent once, however often the request is retried.",
    )
    def create(self, request, *args, **kwargs):
        serializer = MessageSendSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        message = message_send_from_api(self, **serializer.validated_data)
        return Response(
            MessageReceiptSerializer(message).data, status=status.HTTP_201_CREATED
        )
