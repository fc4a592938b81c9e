"""CommunicationRequest (send a message), Communication (what was sent and
how it fared) and Consent (the ledger)."""

from __future__ import annotations

from rest_framework import status

from django.db.models import Prefetch

from api.fhir.base import FhirError
from api.fhir.parsing import message_input
from api.fhir.resources import (
    communication_request_resource,
    communication_resource,
    consent_resource,
)
from api.fhir.search import reference_param
from api.fhir.views.base import (
    FhirInstanceView,
    FhirResourceView,
    FhirTypeView,
    FhirVersionView,
)
from api.keys import api_key_purpose_check
from api.scopes import Scope
from clinic.models import AccessAudit
from consent.errors import ConsentError
from consent.models import ConsentEvent, ConsentState
from consent.selectors import topic_resolve
from messaging.models import Delivery, Message
from messaging.services.sending import message_send


class MessageMixin:
    read_scope = Scope.MESSAGES_READ
    audit_action = AccessAudit.Action.VIEW_MESSAGE

    def queryset(self, origin: str = ""):
        queryset = (
            Message.objects.for_organization(self.organization)
            .select_related("patient__organization", "topic")
            .prefetch_related(Prefetch("deliveries", Delivery.objects.order_by("id")))
        )
        return queryset.filter(origin=origin) if origin else queryset


class CommunicationInstanceView(MessageMixin, FhirInstanceView):
    resource_type = "Communication"

    def to_fhir(self, message):
        return communication_resource(message)


class CommunicationTypeView(MessageMixin, FhirTypeView):
    resource_type = "Communication"
    ordering = ("created_at", "id")
    search_params = {
        "patient": reference_param(
            "patient__public_id", "Patient", "The patient: Patient/<id>."
        ),
    }

    def to_fhir(self, message):
        return communication_resource(message)


class CommunicationRequestInstanceView(MessageMixin, FhirInstanceView):
    """A message a partner asked for (origin "api"), read back with its status."""

    resource_type = "CommunicationRequest"

    def queryset(self):
        return super().queryset(origin=Message.Origin.API)

    def to_fhir(self, message):
        return communication_request_resource(message)


class CommunicationRequestVersionView(MessageMixin, FhirVersionView):
    resource_type = "CommunicationRequest"

    def queryset(self):
        return super().queryset(origin=Message.Origin.API)

    def to_fhir(self, message):
        return communication_request_resource(message)


class CommunicationRequestTypeView(MessageMixin, FhirResourceView):
    resource_type = "CommunicationRequest"
    write_scope = Scope.MESSAGES_SEND
    interactions = ("create",)

    def post(self, request):
        data = message_input(request.data, self.organization)
        try:
            topic = topic_resolve(patient=data.patient, topic=data.topic)
        except ConsentError:
            raise FhirError(
                "No topic with this code in this organization.",
                code="code-invalid",
                expression="CommunicationRequest.category",
            ) from None
        api_key_purpose_check(key=self.api_key, purpose=topic.purpose)
        message = message_send(
            patient=data.patient,
            topic=topic,
            origin=Message.Origin.API,
            text=data.text,
            origin_ref=self.api_key.actor_label,
        )
        message = self.queryset().get(pk=message.pk)
        return self.versioned(
            communication_request_resource(message), status.HTTP_201_CREATED
        )


class ConsentMixin:
    resource_type = "Consent"
    read_scope = Scope.CONSENT_READ

    def queryset(self):
        return ConsentEvent.objects.for_organization(self.organization).select_related(
            "patient__organization", "topic"
        )

    def to_fhir_page(self, events):
        in_force = set(
            ConsentState.objects.filter(
                event_id__in=[event.pk for event in events]
            ).values_list("event_id", flat=True)
        )
        return [
            consent_resource(event, in_force=event.pk in in_force) for event in events
        ]

    def to_fhir(self, event):
        return self.to_fhir_page([event])[0]


class ConsentInstanceView(ConsentMixin, FhirInstanceView):
    pass


class ConsentTypeView(ConsentMixin, FhirTypeView):
    ordering = ("occurred_at", "id")
    search_params = {
        "patient": reference_param(
            "patient__public_id", "Patient", "The patient: Patient/<id>."
        ),
    }
