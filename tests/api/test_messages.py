"""``/api/v1/messages/``: a partner sends a message and reads what became of it."""

import pytest

from api.models import IdempotencyRecord
from api.scopes import Scope
from clinic.models import AccessAudit
from consent.services import consent_record
from messaging.models import Delivery, Message
from tests.api.api_support import assert_problem
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

# Sends expect their deliveries queued, not deferred by quiet hours.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("daytime")]

MESSAGES = "/api/v1/messages/"


@pytest.fixture
def topic(organization):
    topic = TopicFactory(
        organization=organization, slug="results", channels=["inapp", "email", "sms"]
    )
    for channel in ("inapp", "email"):
        TemplateFactory(
            topic=topic,
            channel=channel,
            language="fr",
            subject="Vos résultats",
            body="Bonjour {{ patient_first_name }}, rendez-vous le "
            "{{ appointment_date }}.",
        )
    return topic


def send(client, patient, topic, **fields):
    body = {"patient": str(patient.public_id), "topic": topic.slug, **fields}
    headers = fields.pop("headers", {})
    body.pop("headers", None)
    return client.post_json(MESSAGES, body, **headers)


def test_send_with_a_template_answers_the_planned_deliveries(api, patient, topic):
    # given
    consent_record(
        patient=patient, granted=False, source="staff", topic=topic, channel="sms"
    )
    # when
    response = send(api, patient, topic, context={"appointment_date": "3 mars"})
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    message = Message.objects.get(public_id=body["id"])
    assert message.origin == "api"
    assert message.origin_ref == "API key EHR sync"
    assert "3 mars" in message.body
    assert body["patient"] == str(patient.public_id)
    assert body["topic"] == "results"
    assert {d["channel"]: d["status"] for d in body["deliveries"]} == {
        "inapp": "queued",
        "email": "queued",
    }
    assert "body" not in body
    assert "subject" not in body


def test_every_delivery_not_sent_says_why(api, organization, topic):
    # given: no email, a landline: nothing but the inbox can carry it
    patient = PatientFactory(organization=organization, email="", phone="")
    # when
    response = send(api, patient, topic)
    # then
    deliveries = {d["channel"]: d for d in response.json()["deliveries"]}
    assert deliveries["email"]["status"] == "suppressed"
    assert deliveries["email"]["reason"] == "no_contact_point"
    assert deliveries["email"]["reason_label"] == "No address for this channel"
    assert deliveries["inapp"]["reason"] == ""


def test_free_text_is_confidential_unless_told_otherwise(api, patient, topic):
    # when
    secret = send(api, patient, topic, text="Votre HbA1c est à 9 %.")
    plain = send(
        api, patient, topic, text="Le cabinet ferme à 18 h.", confidential=False
    )
    # then
    assert secret.json()["confidential"] is True
    email = Delivery.objects.get(
        message__public_id=secret.json()["id"], channel="email"
    )
    assert "HbA1c" not in email.body
    assert plain.json()["confidential"] is False
    email = Delivery.objects.get(message__public_id=plain.json()["id"], channel="email")
    assert "18 h" in email.body


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"text": "Bonjour", "context": {"appointment_date": "x"}}, "#/context"),
        ({"subject": "Sans texte"}, "#/subject"),
        ({"confidential": False}, "#/confidential"),
        ({"context": {"diagnosis_secret": "x"}}, "#/context"),
        ({"context": {"appointment_date": ["x"]}}, "#/context"),
        ({"topic": "nope"}, "#/topic"),
    ],
)
def test_invalid_requests_point_at_the_field(api, patient, topic, fields, pointer):
    body = {"patient": str(patient.public_id), "topic": topic.slug, **fields}
    problem = assert_problem(api.post_json(MESSAGES, body), 400)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert not Message.objects.exists()


def test_topic_without_templates_and_no_text_is_400(api, organization, patient):
    bare = TopicFactory(organization=organization, slug="bare")
    assert_problem(send(api, patient, bare), 400)
    assert not Message.objects.exists()


def test_security_topics_are_refused(api, organization, patient):
    codes = TopicFactory(organization=organization, slug="codes", purpose="security")
    problem = assert_problem(send(api, patient, codes, text="Code 1234"), 400)
    assert "security" in problem["errors"][0]["detail"]
    assert not Message.objects.exists()


def test_another_organizations_patient_or_topic_is_a_field_error(
    api, other_organization, patient, topic
):
    stranger = PatientFactory(organization=other_organization)
    problem = assert_problem(send(api, stranger, topic), 400)
    assert problem["errors"][0]["pointer"] == "#/patient"
    foreign = TopicFactory(organization=other_organization, slug="theirs")
    problem = assert_problem(send(api, patient, foreign, text="Bonjour"), 400)
    assert problem["errors"][0]["pointer"] == "#/topic"


class TestIdempotency:
    def test_a_retry_sends_nothing_more(self, api, patient, topic):
        headers = {"HTTP_IDEMPOTENCY_KEY": "msg-1"}
        first = send(api, patient, topic, headers=headers)
        again = send(api, patient, topic, headers=headers)
        assert again.json() == first.json()
        assert Message.objects.count() == 1

    def test_the_message_keeps_the_key_after_the_replay_expired(
        self, api, patient, topic
    ):
        # given
        headers = {"HTTP_IDEMPOTENCY_KEY": "msg-2"}
        first = send(api, patient, topic, headers=headers)
        IdempotencyRecord.objects.all().delete()
        # when
        again = send(api, patient, topic, headers=headers)
        # then
        assert again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert Message.objects.count() == 1

    def test_two_keys_of_one_organization_may_use_the_same_header(
        self, make_client, patient, topic
    ):
        first, _ = make_client()
        second, _ = make_client()
        headers = {"HTTP_IDEMPOTENCY_KEY": "same"}
        send(first, patient, topic, headers=headers)
        send(second, patient, topic, headers=headers)
        assert Message.objects.count() == 2

    def test_a_reused_key_for_another_patient_is_422(
        self, api, organization, patient, topic
    ):
        headers = {"HTTP_IDEMPOTENCY_KEY": "msg-3"}
        send(api, patient, topic, headers=headers)
        IdempotencyRecord.objects.all().delete()
        other = PatientFactory(organization=organization)
        assert_problem(send(api, other, topic, headers=headers), 422)
        assert not Message.objects.filter(patient=other).exists()

    def test_a_long_key_still_fits(self, api, patient, topic):
        headers = {"HTTP_IDEMPOTENCY_KEY": "k" * 255}
        assert send(api, patient, topic, headers=headers).status_code == 201
        assert len(Message.objects.get().idempotency_key) <= 200


def test_read_shows_body_deliveries_and_audits_as_message_read(api, patient, topic):
    sent = send(api, patient, topic, text="Résultats disponibles.").json()
    # when
    response = api.get(f"{MESSAGES}{sent['id']}/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["body"] == "Résultats disponibles."
    assert body["direction"] == "out"
    assert body["conversation"] is None
    assert {d["channel"] for d in body["deliveries"]} == {"inapp", "email"}
    entry = AccessAudit.objects.get(patient=patient)
    assert entry.action == AccessAudit.Action.VIEW_MESSAGE
    assert entry.detail == "API: message"


def test_list_is_per_patient_newest_first_by_cursor(
    api, organization, patient, topic, django_assert_max_num_queries
):
    sent = [send(api, patient, topic, text=f"n°{n}").json()["id"] for n in range(5)]
    send(api, PatientFactory(organization=organization), topic, text="other")
    seen, url = [], f"{MESSAGES}?patient={patient.public_id}&limit=2"
    while url:
        with django_assert_max_num_queries(12):
            page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sent[::-1]
    assert (
        AccessAudit.objects.filter(patient=patient, detail="API: message list").count()
        == 3
    )


def test_list_needs_a_patient_of_the_organization(api, other_organization):
    assert_problem(api.get(MESSAGES), 400)
    stranger = PatientFactory(organization=other_organization)
    assert_problem(api.get(MESSAGES, {"patient": str(stranger.public_id)}), 400)


def test_other_organizations_message_is_404(api, other_organization):
    stranger = PatientFactory(organization=other_organization)
    TopicFactory(organization=other_organization, slug="x")
    from messaging.services import message_send

    message = message_send(patient=stranger, topic="x", origin="staff", text="Hi")
    assert_problem(api.get(f"{MESSAGES}{message.public_id}/"), 404)


def test_scopes(make_client, patient, topic):
    reader, _ = make_client(scopes=[Scope.MESSAGES_READ])
    assert_problem(send(reader, patient, topic), 403)
    sender, _ = make_client(scopes=[Scope.MESSAGES_SEND])
    sent = send(sender, patient, topic)
    assert sent.status_code == 201
    assert_problem(sender.get(f"{MESSAGES}{sent.json()['id']}/"), 403)
    assert reader.get(f"{MESSAGES}{sent.json()['id']}/").status_code == 200


@pytest.mark.parametrize(
    ("language", "subject"),
    [("fr", "Message de North clinic"), ("en", "Message from North clinic")],
)
def test_text_without_a_subject_is_emailed_under_the_organizations_name(
    api, organization, topic, language, subject
):
    """Never an empty Subject, and nothing of the text in it."""
    # given
    patient = PatientFactory(organization=organization, preferred_language=language)
    # when
    response = send(
        api, patient, topic, text="Vos résultats sont prêts.", confidential=False
    )
    # then
    assert response.status_code == 201, response.content
    message = Message.objects.get(public_id=response.json()["id"])
    email = message.deliveries.get(channel="email")
    assert email.subject == subject
    assert message.deliveries.get(channel="inapp").subject == ""


def test_text_with_a_subject_keeps_it(api, patient, topic):
    response = send(
        api, patient, topic, text="Bonjour.", subject="Rappel", confidential=False
    )
    message = Message.objects.get(public_id=response.json()["id"])
    assert message.deliveries.get(channel="email").subject == "Rappel"
