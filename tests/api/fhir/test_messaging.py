"""CommunicationRequest sends a message through the send pipeline;
Communication reports it with its deliveries' status."""

import pytest

from django.utils import timezone

from api.scopes import Scope
from clinic.models import AccessAudit
from consent.services import consent_record
from messaging.models import Delivery, Message
from messaging.services.sending import message_send
from tests.api.fhir.bodies_support import new_request
from tests.api.fhir.conftest import BASE, assert_outcome, fhir_ok, fhir_valid, post_fhir
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

REQUESTS = BASE + "CommunicationRequest"
COMMUNICATIONS = BASE + "Communication"


@pytest.fixture
def topic(organization):
    return TopicFactory(organization=organization, slug="results-ready")


def test_request_sends_a_message_with_planned_deliveries(
    api, organization, patient, topic
):
    # when
    response = post_fhir(api, REQUESTS, new_request(patient, organization))
    # then
    body = fhir_ok(response, 201)
    message = Message.objects.get(public_id=body["id"])
    assert message.origin == Message.Origin.API
    assert message.origin_ref == "API key EHR sync"
    assert message.topic == topic
    assert message.body == "Your results are ready in the portal."
    channels = set(message.deliveries.values_list("channel", flat=True))
    assert "inapp" in channels
    assert len(channels) == 2  # the inbox and the first other channel
    version = body["meta"]["versionId"]
    assert response["Location"].endswith(
        f"/fhir/r4/CommunicationRequest/{message.public_id}/_history/{version}"
    )
    assert response["ETag"] == f'W/"{version}"'
    assert body["status"] == "active"
    assert body["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert {e["url"] for e in body["extension"]} == {"urn:liaison:fhir:delivery"}
    assert "payload" not in body  # the text is never read back


def test_request_is_idempotent_with_the_header(api, organization, patient, topic):
    headers = {"HTTP_IDEMPOTENCY_KEY": "send-1"}
    first = post_fhir(api, REQUESTS, new_request(patient, organization), **headers)
    again = post_fhir(api, REQUESTS, new_request(patient, organization), **headers)
    assert first.json() == again.json()
    assert Message.objects.count() == 1


def test_request_refusals(api, organization, other_organization, patient, topic):
    assert_outcome(
        post_fhir(api, REQUESTS, new_request(patient, organization, slug="nope")),
        400,
        "code-invalid",
    )
    no_topic = new_request(patient, organization)
    no_topic["category"] = [{"text": "results"}]
    assert_outcome(post_fhir(api, REQUESTS, no_topic), 400, "required")
    issue = assert_outcome(
        post_fhir(
            api, REQUESTS, new_request(patient, organization, medium=[{"text": "sms"}])
        ),
        400,
        "not-supported",
    )
    assert issue["expression"] == ["CommunicationRequest.medium"]
    assert_outcome(
        post_fhir(api, REQUESTS, new_request(patient, organization, doNotPerform=True)),
        400,
        "not-supported",
    )
    stranger = PatientFactory(organization=other_organization)
    assert_outcome(
        post_fhir(api, REQUESTS, new_request(stranger, organization)), 400, "not-found"
    )
    assert_outcome(
        post_fhir(api, REQUESTS, new_request(patient, organization, status="draft")),
        400,
        "value",
    )
    no_text = new_request(patient, organization)
    del no_text["payload"]
    # The topic has no template to say it with: a rule of the server, 422.
    assert_outcome(post_fhir(api, REQUESTS, no_text), 422, "business-rule")
    assert not Message.objects.exists()


def test_request_needs_messages_send(make_client, organization, patient, topic):
    client, _ = make_client(scopes=[Scope.MESSAGES_READ])
    assert_outcome(
        post_fhir(client, REQUESTS, new_request(patient, organization)),
        403,
        "forbidden",
    )


def test_request_reads_back_with_its_status(api, organization, patient, topic):
    sent = post_fhir(api, REQUESTS, new_request(patient, organization)).json()
    Delivery.objects.filter(message__public_id=sent["id"]).update(status="delivered")
    body = fhir_ok(api.get(f"{REQUESTS}/{sent['id']}"))
    assert body["status"] == "completed"
    # Messages not asked for by a partner are no CommunicationRequest.
    other = message_send(patient=patient, topic=topic, origin="staff", text="Hello")
    assert_outcome(api.get(f"{REQUESTS}/{other.public_id}"), 404, "not-found")


def test_communication_status_follows_the_deliveries(api, organization, patient, topic):
    message = message_send(patient=patient, topic=topic, origin="api", text="Hello")
    url = f"{COMMUNICATIONS}/{message.public_id}"
    assert fhir_ok(api.get(url))["status"] == "preparation"
    message.deliveries.update(status="sent", sent_at=timezone.now())
    body = fhir_ok(api.get(url))
    assert body["status"] == "completed"
    assert body["sent"]
    assert (
        body["basedOn"][0]["reference"] == f"CommunicationRequest/{message.public_id}"
    )
    assert body["recipient"][0]["reference"] == f"Patient/{patient.public_id}"
    assert body["topic"]["coding"][0]["code"] == "results-ready"
    assert "payload" not in body
    message.deliveries.update(status="suppressed", reason="opted_out")
    body = fhir_ok(api.get(url))
    assert body["status"] == "not-done"
    assert body["statusReason"]["coding"][0]["code"] == "opted_out"
    audits = AccessAudit.objects.filter(
        patient=patient, detail="API: FHIR Communication"
    )
    assert audits.count() == 3
    assert {a.action for a in audits} == {AccessAudit.Action.VIEW_MESSAGE}


def test_communication_search_by_patient_pages(api, organization, patient, topic):
    for index in range(3):
        message_send(patient=patient, topic=topic, origin="staff", text=f"Note {index}")
    other = PatientFactory(organization=organization)
    message_send(patient=other, topic=topic, origin="staff", text="Other")
    first = fhir_ok(
        api.get(
            COMMUNICATIONS, {"patient": f"Patient/{patient.public_id}", "_count": 2}
        )
    )
    assert first["total"] == 3
    assert len(first["entry"]) == 2
    for entry in first["entry"]:
        fhir_valid(entry["resource"])
    [following] = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = fhir_ok(api.get(following))
    assert len(second["entry"]) == 1


def test_communication_needs_messages_read_and_the_organization(
    make_client, api, organization, other_organization, patient, topic
):
    message = message_send(patient=patient, topic=topic, origin="staff", text="Hi")
    reader, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert_outcome(
        reader.get(f"{COMMUNICATIONS}/{message.public_id}"), 403, "forbidden"
    )
    stranger = PatientFactory(organization=other_organization)
    their_topic = TopicFactory(organization=other_organization)
    theirs = message_send(
        patient=stranger, topic=their_topic, origin="staff", text="Hi"
    )
    assert_outcome(api.get(f"{COMMUNICATIONS}/{theirs.public_id}"), 404, "not-found")


def test_consent_read_and_search(
    api, make_client, organization, other_organization, patient
):
    granted = consent_record(
        patient=patient, granted=True, source="api", purpose="marketing", channel="sms"
    )
    withdrawn = consent_record(
        patient=patient,
        granted=False,
        source="portal",
        purpose="marketing",
        channel="sms",
    )
    body = fhir_ok(api.get(f"{BASE}Consent/{withdrawn.public_id}"))
    assert body["status"] == "active"
    assert body["provision"]["type"] == "deny"
    assert body["patient"]["reference"] == f"Patient/{patient.public_id}"
    assert (
        fhir_ok(api.get(f"{BASE}Consent/{granted.public_id}"))["status"] == "inactive"
    )
    bundle = fhir_ok(api.get(f"{BASE}Consent", {"patient": str(patient.public_id)}))
    assert [e["resource"]["id"] for e in bundle["entry"]] == [
        str(granted.public_id),
        str(withdrawn.public_id),
    ]
    assert AccessAudit.objects.filter(
        patient=patient, detail="API: FHIR Consent search"
    ).exists()
    stranger = PatientFactory(organization=other_organization)
    theirs = consent_record(
        patient=stranger, granted=True, source="api", purpose="marketing"
    )
    assert_outcome(api.get(f"{BASE}Consent/{theirs.public_id}"), 404, "not-found")
    reader, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert_outcome(reader.get(f"{BASE}Consent"), 403, "forbidden")
