"""Tenancy reaches the phone network: two clinics with the same patient phone,
and every text lands in exactly one of them, or in neither (the platform
queue, which only superusers see)."""

from dataclasses import dataclass

import pytest

from django.urls import reverse

from api.keys import api_key_create
from clinic.models import Organization, Patient
from clinic.services import patient_save
from messaging.models import Message, SenderIdentity, UnmatchedInbound
from tests.api.conftest import ApiClient
from tests.clinic.factories import PatientFactory, StaffMemberFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.messaging.providers.fakes import (
    SINCH_NUMBER,
    TWILIO_NUMBER,
    TWILIO_SID,
    logged_text,
    sinch_post,
    twilio_post,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("failover_providers")]
PHONE = "+33612345678"  # a patient of both clinics
B_TWILIO, B_SINCH = "+33700000011", "+33700000012"
UNKNOWN = "+33700000099"


@dataclass
class Clinic:
    organization: Organization
    patient: Patient
    numbers: dict[str, str]


@pytest.fixture
def clinics(organization, other_organization, senders) -> dict[str, Clinic]:
    """A (its numbers: ``senders``) and B, each with a patient at PHONE."""
    for provider, number in (("twilio", B_TWILIO), ("sinch", B_SINCH)):
        SenderIdentity.objects.create(
            organization=other_organization, provider=provider, phone_number=number
        )
    found = {}
    for name, org, numbers in (
        ("A", organization, {"twilio": TWILIO_NUMBER, "sinch": SINCH_NUMBER}),
        ("B", other_organization, {"twilio": B_TWILIO, "sinch": B_SINCH}),
    ):
        TopicFactory(organization=org, slug="care", purpose="care")
        patient = patient_save(
            patient=PatientFactory.build(organization=org, phone=PHONE)
        )
        found[name] = Clinic(org, patient, numbers)
    return found


def text(client, provider: str, to: str, body: str, message_id: str):
    """The patient's SMS to ``to``, as the provider's signed webhook posts it."""
    if provider == "twilio":
        data = {
            "MessageSid": message_id,
            "AccountSid": TWILIO_SID,
            "From": PHONE,
            "To": to,
            "Body": body,
        }
        return twilio_post(client, "/webhooks/twilio/inbound", data)
    payload = {
        "type": "mo_text",
        "id": message_id,
        "from": PHONE.lstrip("+"),
        "to": to.lstrip("+"),
        "body": body,
    }
    return sinch_post(client, "/webhooks/sinch/inbound", payload)


def api_bodies(clinic: Clinic) -> list[str]:
    """What the clinic's partner API lists: its patient's messages, and the
    first message of each of its conversations."""
    _key, raw = api_key_create(
        organization=clinic.organization, name="EHR", scopes=["messages:read"]
    )
    api = ApiClient(raw)
    messages = api.get(f"/api/v1/messages/?patient={clinic.patient.public_id}")
    conversations = api.get("/api/v1/conversations/")
    assert (messages.status_code, conversations.status_code) == (200, 200)
    bodies = [m["body"] for m in messages.json()["results"]]
    for conversation in conversations.json()["results"]:
        detail = api.get(f"/api/v1/conversations/{conversation['id']}/")
        bodies += [m["body"] for m in detail.json()["messages"]]
    return bodies


def admin_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def staff_of(clinic: Clinic):
    return StaffMemberFactory(organization=clinic.organization).user


def unmatched_seen_by(user, unmatched: UnmatchedInbound) -> tuple[bool, int]:
    """(listed in the user's unmatched changelist, status of its change page)."""
    client = admin_client(user)
    listing = client.get(reverse("admin:messaging_unmatchedinbound_changelist"))
    assert listing.status_code == 200
    listed = unmatched.pk in {u.pk for u in listing.context["cl"].result_list}
    page = client.get(
        reverse("admin:messaging_unmatchedinbound_change", args=[unmatched.pk])
    )
    return listed, page.status_code


@pytest.mark.parametrize("provider", ["twilio", "sinch"])
@pytest.mark.parametrize(("to", "other"), [("A", "B"), ("B", "A")])
def test_a_text_to_a_clinics_number_lands_in_that_clinic_only(
    client, clinics, provider, to, other
):
    """Both clinics have a patient at the phone; only the one texted gets it."""
    # given
    target, bystander = clinics[to], clinics[other]
    # when
    response = text(client, provider, target.numbers[provider], "Bonjour", "MO-1")
    # then
    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.organization, message.patient) == (
        target.organization,
        target.patient,
    )
    assert api_bodies(target) == ["Bonjour", "Bonjour"]  # message, conversation
    assert api_bodies(bystander) == []
    change = reverse("admin:messaging_message_change", args=[message.pk])
    assert admin_client(staff_of(target)).get(change).status_code == 200
    assert admin_client(staff_of(bystander)).get(change).status_code == 404
    assert not UnmatchedInbound.objects.exists()


@pytest.mark.parametrize("provider", ["twilio", "sinch"])
@pytest.mark.parametrize("number", ["unknown", "shared"])
def test_a_text_to_no_single_clinics_number_waits_in_the_platform_queue(
    client, clinics, provider, number, log_records
):
    """A number of no clinic, or of both (written outside admin), routes to
    none: superusers see it; neither clinic's staff nor API does."""
    # given
    if number == "shared":
        SenderIdentity.objects.filter(
            organization=clinics["B"].organization, provider=provider
        ).update(phone_number=clinics["A"].numbers[provider])
        to = clinics["A"].numbers[provider]
    else:
        to = UNKNOWN
    # when
    response = text(client, provider, to, "Résultats ?", "MO-2")
    # then
    assert response.status_code == 200
    assert not Message.objects.exists()
    unmatched = UnmatchedInbound.objects.get()
    assert (unmatched.organization, unmatched.text) == (None, "Résultats ?")
    superuser = UserFactory(is_staff=True, is_superuser=True)
    assert unmatched_seen_by(superuser, unmatched) == (True, 200)
    for name in ("A", "B"):
        assert unmatched_seen_by(staff_of(clinics[name]), unmatched) == (False, 404)
        assert api_bodies(clinics[name]) == []
    logged = logged_text(log_records)
    assert f"inbound sms {provider}:MO-2" in logged
    assert PHONE not in logged
    assert "Résultats" not in logged


def test_a_stop_to_a_number_of_no_clinic_withdraws_nothing_anywhere(client, clinics):
    """A keyword that names no single clinic changes no clinic's consent."""
    from consent.models import ConsentEvent

    # when
    response = text(client, "twilio", UNKNOWN, "STOP", "MO-3")
    # then
    assert b"<Response></Response>" in response.content
    assert not ConsentEvent.objects.exists()
    assert UnmatchedInbound.objects.get().organization is None


def test_a_clinic_without_that_patient_keeps_the_text_in_its_own_queue(client, clinics):
    """Routed to B, from a phone B does not know: B's unmatched queue."""
    # given
    Patient.objects.filter(pk=clinics["B"].patient.pk).update(phone="+33611111111")
    # when
    text(client, "twilio", B_TWILIO, "Bonjour", "MO-4")
    # then
    unmatched = UnmatchedInbound.objects.get()
    assert unmatched.organization == clinics["B"].organization
    assert unmatched_seen_by(staff_of(clinics["B"]), unmatched) == (True, 200)
    assert unmatched_seen_by(staff_of(clinics["A"]), unmatched) == (False, 404)
    assert not Message.objects.exists()


def test_a_twilio_text_on_another_account_is_not_routed_by_number_alone(
    client, clinics
):
    """The number is A's on the platform account; the same number on an
    account nobody configured routes to no clinic."""
    data = {
        "MessageSid": "MO-5",
        "AccountSid": "AC" + "f" * 32,
        "From": PHONE,
        "To": TWILIO_NUMBER,
        "Body": "Bonjour",
    }
    twilio_post(client, "/webhooks/twilio/inbound", data)
    assert not Message.objects.exists()
    assert UnmatchedInbound.objects.get().organization is None


def test_a_messaging_service_routes_texts_to_its_numbers(client, clinics):
    """Inbound through B's Messaging Service (to a pool number) reaches B."""
    # given
    service = "MG" + "ab" * 16
    SenderIdentity.objects.filter(
        organization=clinics["B"].organization, provider="twilio"
    ).update(messaging_service_sid=service)
    data = {
        "MessageSid": "MO-6",
        "AccountSid": TWILIO_SID,
        "MessagingServiceSid": service,
        "From": PHONE,
        "To": "+33700000077",  # another number of the service's pool
        "Body": "Bonjour",
    }
    # when
    twilio_post(client, "/webhooks/twilio/inbound", data)
    # then
    assert Message.objects.get().organization == clinics["B"].organization
