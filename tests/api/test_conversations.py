"""``/api/v1/conversations/``: a partner reads a patient's threads and
answers in them."""

import pytest

from api.scopes import Scope
from clinic.models import AccessAudit
from conversations.models import Conversation
from messaging.models import Delivery, Message
from messaging.services import message_reply, message_send
from tests.api.api_support import assert_problem
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/v1/conversations/"


@pytest.fixture
def topic(organization):
    return TopicFactory(
        organization=organization, slug="care-team", channels=["inapp", "email"]
    )


@pytest.fixture
def conversation(patient, topic):
    """The clinic wrote; the patient answered from the portal."""
    question = message_send(
        patient=patient, topic=topic, origin="staff", text="Comment allez-vous ?"
    )
    message_reply(patient=patient, message=question, text="Mieux, merci.")
    return Conversation.objects.get(patient=patient)


def url(conversation, tail=""):
    return f"{CONVERSATIONS}{conversation.public_id}/{tail}"


def test_read_shows_the_thread_oldest_first_and_audits(api, conversation, patient):
    response = api.get(url(conversation))
    assert response.status_code == 200
    body = response.json()
    assert body["patient"] == str(patient.public_id)
    assert [(m["direction"], m["body"]) for m in body["messages"]] == [
        ("out", "Comment allez-vous ?"),
        ("in", "Mieux, merci."),
    ]
    entry = AccessAudit.objects.get(patient=patient)
    assert entry.action == AccessAudit.Action.VIEW_MESSAGE


def test_reply_is_the_clinics_message_in_the_conversation(api, conversation, topic):
    # when
    response = api.post_json(url(conversation, "reply/"), {"text": "Très bien."})
    # then
    assert response.status_code == 201, response.content
    reply = Message.objects.get(public_id=response.json()["id"])
    assert reply.conversation == conversation
    assert reply.direction == "out"
    assert reply.origin == "api"
    assert reply.topic == topic
    assert response.json()["conversation"] == str(conversation.public_id)
    assert response.json()["confidential"] is True
    email = Delivery.objects.get(message=reply, channel="email")
    assert "Très bien" not in email.body


def test_reply_counts_as_the_clinics_answer(api, conversation):
    """The SLA clock and the dashboard's counts see a partner's reply."""
    assert conversation.awaiting_since is not None
    api.post_json(url(conversation, "reply/"), {"text": "Très bien."})
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None
    assert conversation.staff_reply_count == 1
    assert conversation.awaiting_since is None
    assert conversation.status == "pending"


def test_reply_on_a_named_topic_of_the_organization(
    api, organization, other_organization, conversation
):
    billing = TopicFactory(organization=organization, slug="billing")
    response = api.post_json(
        url(conversation, "reply/"), {"text": "Facture jointe.", "topic": "billing"}
    )
    assert Message.objects.get(public_id=response.json()["id"]).topic == billing
    TopicFactory(organization=other_organization, slug="theirs")
    problem = assert_problem(
        api.post_json(url(conversation, "reply/"), {"text": "x", "topic": "theirs"}),
        400,
    )
    assert problem["errors"][0]["pointer"] == "#/topic"


def test_reply_needs_text(api, conversation):
    problem = assert_problem(api.post_json(url(conversation, "reply/"), {}), 400)
    assert problem["errors"][0]["pointer"] == "#/text"


def test_empty_conversation_needs_a_topic(api, organization, patient):
    empty = Conversation.objects.create(organization=organization, patient=patient)
    problem = assert_problem(api.post_json(url(empty, "reply/"), {"text": "x"}), 400)
    assert problem["errors"][0]["pointer"] == "#/topic"


def test_list_filters_by_patient_and_status(api, organization, conversation, patient):
    other = Conversation.objects.create(
        organization=organization,
        patient=PatientFactory(organization=organization),
        status="closed",
    )
    rows = api.get(CONVERSATIONS, {"patient": str(patient.public_id)}).json()
    assert [r["id"] for r in rows["results"]] == [str(conversation.public_id)]
    rows = api.get(CONVERSATIONS, {"status": "closed"}).json()
    assert [r["id"] for r in rows["results"]] == [str(other.public_id)]
    assert_problem(api.get(CONVERSATIONS, {"status": "lost"}), 400)
    # An empty status is refused too: ignoring it would list every conversation.
    assert_problem(api.get(CONVERSATIONS, {"status": ""}), 400)
    assert AccessAudit.objects.filter(detail="API: conversation list").exists()


def test_other_organizations_conversation_is_404(api, other_organization):
    stranger = PatientFactory(organization=other_organization)
    theirs = Conversation.objects.create(
        organization=other_organization, patient=stranger
    )
    assert_problem(api.get(url(theirs)), 404)
    assert_problem(api.post_json(url(theirs, "reply/"), {"text": "x"}), 404)
    assert not Message.objects.exists()


def test_scopes(make_client, conversation):
    reader, _ = make_client(scopes=[Scope.MESSAGES_READ])
    assert reader.get(url(conversation)).status_code == 200
    assert_problem(reader.post_json(url(conversation, "reply/"), {"text": "x"}), 403)
    sender, _ = make_client(scopes=[Scope.MESSAGES_SEND])
    assert_problem(sender.get(CONVERSATIONS), 403)
    response = sender.post_json(url(conversation, "reply/"), {"text": "x"})
    assert response.status_code == 201
