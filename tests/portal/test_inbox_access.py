"""Every inbox URL and every message id, as every kind of outsider: 404, never
403, and nothing of the victim's messages in the answer."""

import datetime

import pytest

from django.urls import reverse
from django.utils import timezone

from clinic.models import AccessAudit, Caregiver
from consent.models import ConsentEvent
from messaging.models import Message
from tests.clinic.factories import (
    CaregiverFactory,
    OrganizationFactory,
    PatientFactory,
    UserFactory,
)
from tests.portal.inbox_support import conversation_for, inbox_message

pytestmark = pytest.mark.django_db
OBJECT_URLS = [
    ("get", "portal:inbox_message"),
    ("post", "portal:inbox_reply"),
    ("post", "portal:inbox_mark_read"),
    ("post", "portal:inbox_object"),
]


@pytest.fixture
def victim(organization):
    patient = PatientFactory(organization=organization, user=UserFactory())
    thread = conversation_for(patient, subject="SECRET-THREAD")
    return patient, [
        inbox_message(patient, conversation=thread, body="SECRET-1"),
        inbox_message(
            patient, purpose="marketing", subject="SECRET-2", body="SECRET-2"
        ),
        inbox_message(
            patient,
            conversation=thread,
            direction="in",
            origin="patient",
            body="SECRET-3",
        ),
    ]


def _outsiders(organization, patient):
    neighbour = PatientFactory(organization=organization, user=UserFactory())
    far = PatientFactory(
        organization=OrganizationFactory(slug="far-inbox"), user=UserFactory()
    )
    no_scope = CaregiverFactory(
        user=UserFactory(), patient=patient, can_see_messages=False
    )
    revoked = CaregiverFactory(user=UserFactory(), patient=patient)
    Caregiver.objects.filter(pk=revoked.pk).update(
        revoked_at=timezone.now() - datetime.timedelta(days=1)
    )
    # The neighbour's own inbox has a message too: the id is all that differs.
    inbox_message(neighbour, body="neighbour's own")
    return {
        "anonymous": (None, None),
        "another patient": (neighbour.user, None),
        "a patient of another organization": (far.user, None),
        "a caregiver without access": (no_scope.user, patient.public_id),
        "a revoked caregiver": (revoked.user, patient.public_id),
    }


def test_no_outsider_reaches_a_patients_inbox(client, organization, victim):
    patient, messages = victim
    before = {m.pk: (m.read_at, m.conversation_id) for m in messages}
    for who, (user, acting_for) in _outsiders(organization, patient).items():
        client.logout()
        if user is not None:
            client.force_login(user)
        if acting_for:
            session = client.session
            session["portal_acting_for"] = str(acting_for)
            session.save()
        for method, name in OBJECT_URLS:
            for message in messages:
                url = reverse(name, args=[message.public_id])
                response = getattr(client, method)(url, {"text": "x"})
                expected = 302 if user is None else 404
                assert response.status_code == expected, (who, url)
                if user is None:
                    assert response["Location"].startswith("/accounts/") or (
                        "login" in response["Location"]
                    ), (who, url)
                assert b"SECRET" not in response.content, (who, url)
        listing = client.get(reverse("portal:inbox"))
        assert b"SECRET" not in listing.content, who
        if user is not None and who.startswith(("a caregiver", "a revoked")):
            assert listing.status_code == 404, who
    # then nothing changed for the victim
    for message in Message.objects.filter(pk__in=before):
        assert (message.read_at, message.conversation_id) == before[message.pk]
    assert Message.objects.filter(patient=patient).count() == 3
    assert not ConsentEvent.objects.exists()
    assert not AccessAudit.objects.exists()


def test_a_caregiver_with_messages_scope_is_let_in(client, caregiver):
    message = inbox_message(caregiver.patient, body="for Lou")
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    assert client.get(reverse("portal:inbox")).status_code == 200
    page = client.get(reverse("portal:inbox_message", args=[message.public_id]))
    assert page.status_code == 200
    assert "for Lou" in page.text
