"""``/api/v1/consent/``: what consent answers for a patient now, with the
reason, and recording consent with its evidence in the ledger."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.utils import timezone

from api.filters import aware_datetime_param
from api.scopes import Scope
from api.serializers.common import patient_from_query, patient_param
from api.serializers.consent import ConsentEventSerializer, DecisionsSerializer
from api.views.base import ApiGenericViewSet
from clinic.models import Patient
from consent.models import ConsentEvent, Topic
from consent.policy import Decision
from consent.selectors import decide, why_describe
from consent.services import consent_record
from consent.vocabulary import Channel, Source


def _decision_row(
    patient: Patient, topic: Topic, channel: str, decision: Decision, events: dict
) -> dict:
    why = decision.why
    return {
        "topic": topic.slug,
        "purpose": topic.purpose,
        "channel": channel,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "reason_label": decision.reason_label,
        "until": decision.until,
        "why": None
        if why is None
        else {
            "purpose": why.purpose,
            "lawful_basis": why.lawful_basis,
            "consent_event": events.get(why.consent_event_id),
            "description": why_describe(why=why, language=patient.preferred_language),
        },
    }


@extend_schema(tags=["consent"])
class ConsentViewSet(ApiGenericViewSet):
    read_scope = Scope.CONSENT_READ
    write_scope = Scope.CONSENT_WRITE
    serializer_class = ConsentEventSerializer

    def get_queryset(self):
        return ConsentEvent.objects.for_organization(self.organization)

    @extend_schema(
        request=ConsentEventSerializer,
        responses={201: ConsentEventSerializer},
        description="Record that the patient gave (`granted: true`) or "
        "withdrew consent, for a topic or a whole purpose, on one channel or "
        "all (`channel` empty), with its evidence. The ledger is append-only: "
        "the latest event wins. Impossible requests are a 400 (withdrawing "
        "security messages, or the secure inbox of care topics).",
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        event = consent_record(
            source=Source.API,
            actor_label=self.api_key.actor_label,
            topic=fields.pop("topic", None),
            **fields,
        )
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            patient_param("The patient.", required=True),
            OpenApiParameter(
                name="topic",
                location=OpenApiParameter.QUERY,
                required=False,
                description="Only this topic (slug); every topic by default.",
            ),
            OpenApiParameter(
                name="channel",
                enum=Channel.values,
                location=OpenApiParameter.QUERY,
                required=False,
                description="Only this channel; each topic's channels by default.",
            ),
            OpenApiParameter(
                name="at",
                type=str,
                location=OpenApiParameter.QUERY,
                required=False,
                description="Decide for this ISO 8601 date-time (with time "
                "zone) rather than now, e.g. for a message planned later.",
            ),
        ],
        responses={200: DecisionsSerializer},
        description="What consent answers now for each topic × channel of the "
        "patient: allow, defer (until) or suppress, with the reason, and for "
        "what is allowed why (purpose, lawful basis, the opt-in behind it). "
        "The same answer the send pipeline gets.",
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def decisions(self, request):
        patient = patient_from_query(self, required=True)
        at = self._at()
        topics = Topic.objects.for_organization(self.organization).order_by("slug")
        slug = request.query_params.get("topic")
        if slug:
            topics = topics.filter(slug=slug)
            if not topics:
                raise exceptions.ValidationError(
                    {"topic": ["No such topic in this organization."]}
                )
        channel = request.query_params.get("channel")
        if channel and channel not in Channel.values:
            raise exceptions.ValidationError(
                {"channel": [f"One of {', '.join(Channel.values)}."]}
            )
        answers = [
            (topic, each, decide(patient, topic, each, at))
            for topic in topics
            for each in ([channel] if channel else topic.channels)
        ]
        event_ids = {d.why.consent_event_id for _t, _c, d in answers if d.why}
        events = dict(
            ConsentEvent.objects.filter(pk__in=event_ids - {None}).values_list(
                "pk", "public_id"
            )
        )
        self.audit_read(patient, "API: consent decisions")
        return Response(
            {
                "patient": patient.public_id,
                "at": at,
                "decisions": [
                    _decision_row(patient, topic, each, decision, events)
                    for topic, each, decision in answers
                ],
            }
        )

    def _at(self):
        raw = self.request.query_params.get("at")
        if not raw:
            return timezone.now()
        return aware_datetime_param("at", raw)
