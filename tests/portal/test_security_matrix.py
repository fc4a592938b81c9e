"""Every portal URL, every object id, every kind of outsider: nobody sees
another patient's data, and the answer is 404, never 403 (which would confirm
the object exists).

The URLs are read from the URL conf, so a new portal endpoint cannot escape.
"""

import datetime

import pytest

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from clinic.models import Caregiver
from conversations.models import Conversation
from messaging.models import Message
from outreach.waitlist.models import WaitlistEntry
from portal.contact_points.models import ContactPointChange
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    OrganizationFactory,
    PatientFactory,
    UserFactory,
)
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db
# Public pages: enrolment takes its own signed tokens, checked by its own
# tests; signing out lands on a page that holds no data.
PUBLIC_PREFIXES = ("portal/enrol/", "portal/signed-out/")


def portal_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from portal_patterns(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("portal/"):
            yield route


def fill(route: str, ids: dict[str, str]) -> list[str]:
    """Concrete URLs for a route, one per candidate object id of the victim."""
    if "<" not in route:
        return ["/" + route]
    urls = []
    for value in ids.values():
        url = route
        while "<" in url:
            start, end = url.index("<"), url.index(">")
            url = url[:start] + value + url[end + 1 :]
        urls.append("/" + url)
    return urls


@pytest.fixture
def victim(organization):
    patient = PatientFactory(
        organization=organization, user=UserFactory(username="victim")
    )
    topic = TopicFactory(organization=organization, slug="care-matrix", purpose="care")
    conversation = Conversation.objects.create(
        organization=organization, patient=patient
    )
    message = Message.objects.create(
        organization=organization,
        patient=patient,
        topic=topic,
        conversation=conversation,
        origin="system",
        sensitivity="confidential",
        language="fr",
        body="SECRET-BODY",
    )
    appointment = AppointmentFactory(patient=patient, kind="SECRET-KIND")
    contact_change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value="SECRET-NEW@example.org"
    )
    waiting = WaitlistEntry.objects.create(
        organization=organization,
        patient=patient,
        earliest=datetime.date(2026, 1, 1),
        latest=datetime.date(2026, 12, 31),
    )
    ids = {
        "waitlist": str(waiting.public_id),
        "patient": str(patient.public_id),
        "message": str(message.public_id),
        "conversation": str(conversation.public_id),
        "appointment": str(appointment.public_id),
        "contact_change": str(contact_change.public_id),
    }
    return patient, ids


@pytest.fixture
def outsiders(organization, victim):
    neighbour = PatientFactory(
        organization=organization, user=UserFactory(username="neighbour")
    )
    far = PatientFactory(
        organization=OrganizationFactory(slug="far-org"),
        user=UserFactory(username="far"),
    )
    no_scope = CaregiverFactory(
        user=UserFactory(username="noscope"),
        patient=victim[0],
        can_see_appointments=False,
        can_see_messages=False,
        can_see_results=False,
        can_manage_preferences=False,
    )
    revoked = CaregiverFactory(user=UserFactory(username="revoked"), patient=victim[0])
    Caregiver.objects.filter(pk=revoked.pk).update(
        revoked_at=timezone.now() - datetime.timedelta(days=1)
    )
    return {
        "another patient": (neighbour.user, None),
        "a patient of another organization": (far.user, None),
        "a caregiver without access": (no_scope.user, str(victim[0].public_id)),
        "a revoked caregiver": (revoked.user, str(victim[0].public_id)),
    }


def test_the_matrix_covers_the_portal():
    routes = list(portal_patterns())
    assert any("act-for" in r for r in routes)
    assert len(routes) >= 3


def test_no_outsider_gets_another_patients_data(client, victim, outsiders):
    _, ids = victim
    object_urls = [
        url
        for route in portal_patterns()
        if "<" in route and not route.startswith(PUBLIC_PREFIXES)
        for url in fill(route, ids)
    ]
    assert object_urls
    for who, (user, acting_for) in outsiders.items():
        client.force_login(user)
        if acting_for:
            session = client.session
            session["portal_acting_for"] = acting_for
            session.save()
        for url in object_urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url, follow=True)
                final = (
                    response.redirect_chain[-1][0] if response.redirect_chain else url
                )
                # A caregiver whose link exists may switch to the patient (and
                # land on the home page); nothing else may answer but 404.
                allowed = response.status_code in (404, 405) or final == "/portal/"
                assert allowed, (who, method, url, response.status_code, final)
                assert b"SECRET" not in response.content, (who, url)
        client.logout()


def test_anonymous_visitors_are_sent_to_log_in(client, victim):
    _, ids = victim
    for route in portal_patterns():
        if route.startswith(PUBLIC_PREFIXES):
            continue
        for url in fill(route, ids):
            response = client.get(url)
            assert response.status_code in (302, 405), (url, response.status_code)
            assert b"SECRET" not in response.content
