"""``/api/v1/webhooks/``: a partner's webhook subscriptions, their delivery
log and replays (``api.webhooks.services``)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from api.models import WebhookDelivery, WebhookSubscription
from api.pagination import CreatedCursorPagination
from api.problems import SecretsUnavailable
from api.schema import problems
from api.scopes import Scope
from api.serializers.webhooks import (
    WebhookDeliverySerializer,
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionSerializer,
)
from api.views.base import ApiGenericViewSet
from api.webhooks.services import (
    webhook_delivery_replay,
    webhook_subscription_create,
    webhook_subscription_rotate_secret,
    webhook_subscription_update,
)
from messaging.credentials import CredentialsKeyMissing

UUID_REGEX = "[0-9a-fA-F-]{36}"


NO_SECRETS = problems(
    {503: "The server has no CREDENTIALS_KEY: signing secrets cannot be stored."}
)


@extend_schema(tags=["webhooks"])
class WebhookSubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    ApiGenericViewSet,
):
    read_scope = Scope.WEBHOOKS_MANAGE
    write_scope = Scope.WEBHOOKS_MANAGE
    serializer_class = WebhookSubscriptionSerializer
    pagination_class = CreatedCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_REGEX

    def get_queryset(self):
        return WebhookSubscription.objects.for_organization(self.organization)

    @extend_schema(
        request=WebhookSubscriptionSerializer,
        responses={201: WebhookSubscriptionCreatedSerializer} | NO_SECRETS,
        description="The answer carries the signing `secret`, shown this once.",
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            subscription, _secret = webhook_subscription_create(
                organization=self.organization,
                created_by_key=self.api_key,
                **serializer.validated_data,
            )
        except CredentialsKeyMissing:
            raise SecretsUnavailable from None
        return Response(
            WebhookSubscriptionCreatedSerializer(subscription).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=WebhookSubscriptionSerializer,
        responses={200: WebhookSubscriptionSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        subscription = self.get_object()
        serializer = self.get_serializer(subscription, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = webhook_subscription_update(
            subscription=subscription, **serializer.validated_data
        )
        return Response(self.get_serializer(subscription).data)

    @extend_schema(
        request=None,
        responses={200: WebhookSubscriptionCreatedSerializer} | NO_SECRETS,
        description="A new signing secret, shown this once; the old one stops at once.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, id=None):
        try:
            subscription, _secret = webhook_subscription_rotate_secret(
                subscription=self.get_object()
            )
        except CredentialsKeyMissing:
            raise SecretsUnavailable from None
        return Response(WebhookSubscriptionCreatedSerializer(subscription).data)

    @extend_schema(
        responses={200: WebhookDeliverySerializer(many=True)},
        description="The subscription's deliveries, newest first.",
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=WebhookDeliverySerializer,
        filter_backends=[],
    )
    def deliveries(self, request, id=None):
        subscription = self.get_object()
        queryset = WebhookDelivery.objects.filter(
            subscription=subscription
        ).select_related("replay_of")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            WebhookDeliverySerializer(page, many=True).data
        )

    @extend_schema(
        request=None,
        responses={201: WebhookDeliverySerializer},
        parameters=[
            OpenApiParameter("delivery_id", str, OpenApiParameter.PATH),
        ],
        description="Send the delivery's event again now, as a new delivery "
        "(same event `id` in the body, new Liaison-Delivery) with its own day "
        "of retries. 409 when the subscription is not active.",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=f"deliveries/(?P<delivery_id>{UUID_REGEX})/replay",
        serializer_class=WebhookDeliverySerializer,
    )
    def replay(self, request, id=None, delivery_id=None):
        subscription = self.get_object()
        delivery = get_object_or_404(
            WebhookDelivery.objects.filter(subscription=subscription),
            public_id=delivery_id,
        )
        replay = webhook_delivery_replay(delivery=delivery)
        return Response(
            WebhookDeliverySerializer(replay).data, status=status.HTTP_201_CREATED
        )
