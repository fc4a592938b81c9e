"""The scope matrix's building blocks (tests/api/test_scope_matrix.py): the
partner routes read from the URL conf, a ``World`` of one organization's
objects that fills their URL kwargs, and the scope each route needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import cached_property

import pytest

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from api.permissions import required_scope
from tests.api.conftest import ApiClient
from tests.clinic.factories import (
    AppointmentFactory,
    PatientFactory,
)
from tests.consent.factories import TopicFactory

PREFIXES = ("api/", "fhir/r4/")
METHODS = ("get", "post", "put", "patch", "delete")
#: Answer without a key, by design (documentation and the FHIR capability).
PUBLIC = {"api:schema", "api:docs", "fhir:metadata"}
PROBLEM_JSON = "application/problem+json"
FHIR_JSON = "application/fhir+json"


@dataclasses.dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name, e.g. api:patient-detail
    path: str  # as routed, e.g. api/v1/^patients/(?P<id>[0-9a-fA-F-]{36})/$
    group: str  # what its kwargs address, e.g. api:patient
    kwargs: tuple[str, ...]
    callback: Callable

    def __str__(self) -> str:
        return self.name


def _walk(patterns, prefix: str = "", namespaces: tuple = ()) -> Iterator[tuple]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns,
                prefix + str(pattern.pattern),
                namespaces + ((pattern.namespace,) if pattern.namespace else ()),
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespaces, pattern


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset's route: method -> action
        return [m for m in METHODS if m in actions]
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return [m for m in METHODS if view_class and hasattr(view_class, m)]


def partner_routes() -> list[tuple[Route, str]]:
    """(route, method) for every routed partner endpoint."""
    found = []
    for path, namespaces, pattern in _walk(get_resolver().url_patterns):
        if not path.lstrip("^").startswith(PREFIXES):
            continue
        name = ":".join((*namespaces, pattern.name or f"<unnamed {path}>"))
        basename = (getattr(pattern.callback, "initkwargs", None) or {}).get(
            "basename"
        ) or (pattern.name or "").rsplit("-", 1)[0]
        route = Route(
            name=name,
            path=path,
            group=":".join((*namespaces, basename)),
            kwargs=tuple(pattern.pattern.regex.groupindex),
            callback=pattern.callback,
        )
        found += [(route, method) for method in _methods(pattern.callback)]
    return found


ROUTES = partner_routes()


class World:
    """Organization A's objects, made on first use."""

    def __init__(self, organization):
        self.organization = organization

    @cached_property
    def patient(self):
        return PatientFactory(organization=self.organization, identifier="A-001")

    @cached_property
    def appointment(self):
        return AppointmentFactory(patient=self.patient, external_id="booking-A-001")

    @cached_property
    def topic(self):
        return TopicFactory(
            organization=self.organization, slug="care-team", channels=["inapp"]
        )

    @cached_property
    def message(self):
        from messaging.services import message_send

        return message_send(
            patient=self.patient, topic=self.topic, origin="api", text="Bonjour."
        )

    @cached_property
    def conversation(self):
        from conversations.models import Conversation
        from messaging.services.replies import message_reply

        message_reply(patient=self.patient, message=self.message, text="Merci.")
        return Conversation.objects.get(patient=self.patient)

    @cached_property
    def consent_event(self):
        from consent.services import consent_record

        return consent_record(
            patient=self.patient, granted=True, source="api", purpose="marketing"
        )

    @cached_property
    def survey(self):
        from tests.feedback.factories import QuestionFactory, SurveyFactory
        from tests.messaging.factories import TemplateFactory

        survey = SurveyFactory(organization=self.organization)
        QuestionFactory(survey=survey, kind="nps", required=True)
        TemplateFactory(topic=survey.topic, channel="inapp", body="{{ survey_link }}")
        return survey

    @cached_property
    def survey_response(self):
        from feedback.services import response_submit, survey_invite

        invitation = survey_invite(survey=self.survey, patient=self.patient)
        question = self.survey.questions.get()
        return response_submit(invitation=invitation, answers={question.pk: 9})

    @cached_property
    def webhook(self):
        from api.webhooks.services import webhook_subscription_create

        subscription, _secret = webhook_subscription_create(
            organization=self.organization,
            url="https://hooks.example.org/liaison",
            events=["delivery.updated"],
        )
        return subscription

    @cached_property
    def webhook_delivery(self):
        from api.models import WebhookDelivery

        return WebhookDelivery.objects.create(
            subscription=self.webhook, event="delivery.updated", status="failed"
        )

    def object_ids(self) -> set[str]:
        """The public ids made so far (a collection must show none of them)."""
        return {
            str(value.public_id)
            for value in vars(self).values()
            if hasattr(value, "public_id")
        }


def _public_id(attribute: str) -> Callable[[World], str]:
    return lambda world: str(getattr(world, attribute).public_id)


#: (group, URL kwarg) -> the value of organization A's object. A route whose
#: kwargs are missing here fails: add the object it addresses.
def _version(world: World, attribute: str) -> str:
    """The current ``versionId`` of the object's FHIR resource (vread)."""
    from api.fhir.resources import appointment_resource, communication_request_resource

    obj = getattr(world, attribute)
    if attribute == "appointment":
        return appointment_resource(obj)["meta"]["versionId"]
    return communication_request_resource(obj)["meta"]["versionId"]


OBJECTS: dict[tuple[str, str], Callable[[World], str]] = {
    ("api:patient", "id"): _public_id("patient"),
    ("api:patient", "identifier"): lambda world: world.patient.identifier,
    ("api:appointment", "id"): _public_id("appointment"),
    ("api:appointment", "external_id"): lambda world: world.appointment.external_id,
    ("api:message", "id"): _public_id("message"),
    ("api:conversation", "id"): _public_id("conversation"),
    ("api:survey", "id"): _public_id("survey"),
    ("api:survey-response", "id"): _public_id("survey_response"),
    ("api:webhook", "id"): _public_id("webhook"),
    ("api:webhook", "delivery_id"): _public_id("webhook_delivery"),
    ("fhir:patient", "id"): _public_id("patient"),
    ("fhir:appointment", "id"): _public_id("appointment"),
    ("fhir:communication", "id"): _public_id("message"),
    ("fhir:communicationrequest", "id"): _public_id("message"),
    ("fhir:appointment", "vid"): lambda world: _version(world, "appointment"),
    ("fhir:communicationrequest", "vid"): lambda world: _version(world, "message"),
    ("fhir:consent", "id"): _public_id("consent_event"),
    ("fhir:questionnaireresponse", "id"): _public_id("survey_response"),
}
#: Kwargs naming an object by the clinic's own key (create-or-update): another
#: organization's request makes or updates ITS object, never A's.
NATURAL_KEYS = {
    ("api:patient", "identifier"): "patient",
    ("api:appointment", "external_id"): "appointment",
}


def url_of(route: Route, world: World) -> str:
    missing = [k for k in route.kwargs if (route.group, k) not in OBJECTS]
    if missing:
        pytest.fail(
            f"{route} has URL kwargs {missing} that tests/api/test_scope_matrix.py "
            f"does not know: add ({route.group!r}, kwarg) to OBJECTS (and the "
            "object to World) so the route is checked for scopes and organizations."
        )
    kwargs = {k: OBJECTS[route.group, k](world) for k in route.kwargs}
    return reverse(route.name, kwargs=kwargs)


def call(client: ApiClient, method: str, url: str):
    body = {} if method in ("post", "put", "patch") else None
    if url.startswith("/fhir/"):
        if body is None:
            return getattr(client, method)(url)
        return getattr(client, method)(url, "{}", content_type=FHIR_JSON)
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type="application/json")


def assert_error(response, status: int, url: str) -> None:
    assert response.status_code == status, (
        f"{url}: {response.status_code} {response.content[:300]!r}"
    )
    if url.startswith("/fhir/"):
        assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
        assert response.json()["resourceType"] == "OperationOutcome"
    else:
        assert response["Content-Type"].startswith(PROBLEM_JSON), response[
            "Content-Type"
        ]
        assert response.json()["status"] == status


def needed_scope(route: Route, method: str) -> str:
    view = route.callback.cls(**route.callback.initkwargs)
    actions = getattr(route.callback, "actions", None)
    if actions:
        view.action = actions[method]
    scope = required_scope(view, method.upper())
    assert scope, f"{route} {method.upper()}: the view names no scope for it"
    return scope
