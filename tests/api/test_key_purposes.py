"""API keys send only topics of the purposes they were given, and a key is
given at most what its creator's role may send (clinic.roles.ROLE_PURPOSES):
every role × every purpose, at creation and at send time (REST and FHIR)."""

import pytest

from django.core.management import call_command
from django.urls import reverse

from api.keys import api_key_create
from api.models import ApiKey
from api.scopes import Scope
from clinic.roles import PurposeNotAllowed
from messaging.models import Message
from tests.api.api_support import assert_problem
from tests.api.fhir.conftest import assert_outcome, post_fhir
from tests.clinic.factories import StaffMemberFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.role_matrix import ALLOWED, MATRIX, ROLES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("role", "purpose"), MATRIX)
def test_a_key_gets_only_purposes_its_creators_role_may_send(
    organization, role, purpose
):
    # given
    creator = StaffMemberFactory(organization=organization, role=role).user
    # when / then
    if (role, purpose) in ALLOWED:
        key, _raw = api_key_create(
            organization=organization,
            name="CRM",
            scopes=[Scope.MESSAGES_SEND],
            created_by=creator,
            purposes=[purpose],
        )
        assert key.purposes == [purpose]
    else:
        with pytest.raises(PurposeNotAllowed):
            api_key_create(
                organization=organization,
                name="CRM",
                scopes=[Scope.MESSAGES_SEND],
                created_by=creator,
                purposes=[purpose],
            )
        assert not ApiKey.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_by_default_a_key_gets_what_its_creators_role_may_send(organization, role):
    creator = StaffMemberFactory(organization=organization, role=role).user
    key, _raw = api_key_create(
        organization=organization,
        name="CRM",
        scopes="messages:send",
        created_by=creator,
    )
    assert {(role, p) for p in key.purposes} == {
        pair for pair in ALLOWED if pair[0] == role
    }


@pytest.fixture
def topics(organization):
    found = {}
    for purpose in ("care", "marketing", "feedback"):
        found[purpose] = TopicFactory(
            organization=organization, slug=f"t-{purpose}", purpose=purpose
        )
        TemplateFactory(topic=found[purpose], channel="inapp", body="Bonjour")
    return found


def send(client, patient, topic):
    return client.post_json(
        "/api/v1/messages/",
        {"patient": str(patient.public_id), "topic": topic.slug},
    )


KEY_MATRIX = [
    (given, sent)
    for given in ("care", "marketing", "feedback")
    for sent in ("care", "marketing", "feedback")
]


@pytest.mark.parametrize(("given", "sent"), KEY_MATRIX)
def test_the_api_refuses_a_topic_of_a_purpose_the_key_was_not_given(
    make_client, patient, topics, given, sent
):
    # given
    client, _key = make_client(purposes=[given])
    # when
    response = send(client, patient, topics[sent])
    # then
    if given == sent:
        assert response.status_code == 201, response.content
    else:
        problem = assert_problem(response, 403)
        assert problem["type"].endswith("purpose_not_allowed")
        assert "may not send topics of the purpose" in problem["detail"]
        assert not Message.objects.exists()


def test_a_conversation_reply_on_a_refused_topic_is_403(
    make_client, patient, topics, organization
):
    from conversations.models import Conversation

    conversation = Conversation.objects.create(
        organization=organization, patient=patient, channel="sms", subject="Question"
    )
    client, _key = make_client(purposes=["marketing"])
    response = client.post_json(
        f"/api/v1/conversations/{conversation.public_id}/reply/",
        {"text": "Bonjour", "topic": topics["care"].slug},
    )
    assert_problem(response, 403)
    assert not Message.objects.exists()


def test_fhir_refuses_a_topic_of_a_purpose_the_key_was_not_given(
    make_client, patient, topics, organization
):
    # given
    client, _key = make_client(purposes=["marketing"])
    request = {
        "resourceType": "CommunicationRequest",
        "status": "active",
        "subject": {"reference": f"Patient/{patient.public_id}"},
        "category": [
            {
                "coding": [
                    {
                        "system": f"urn:liaison:org:{organization.slug}:topic",
                        "code": topics["care"].slug,
                    }
                ]
            }
        ],
        "payload": [{"contentString": "Your results are ready."}],
    }
    # when
    response = post_fhir(client, "/fhir/r4/CommunicationRequest", request)
    # then
    issue = assert_outcome(response, 403, "forbidden")
    assert "may not send topics" in issue["diagnostics"]
    assert not Message.objects.exists()


def test_the_key_form_offers_only_the_roles_purposes(client, organization):
    # given: a clinic administrator (care, marketing, feedback)
    admin = StaffMemberFactory(organization=organization, role="admin").user
    client.force_login(admin)
    url = reverse("admin:api_apikey_add")
    # when
    page = client.get(url).content.decode()
    forced = client.post(
        url,
        {
            "name": "CRM",
            "scopes": ["messages:send"],
            "purposes": ["security"],
            "rate_per_minute": 600,
        },
    )
    # then
    assert 'value="care"' in page
    assert 'value="security"' not in page
    assert "Your role may not give a key this purpose" in forced.content.decode()
    assert not ApiKey.objects.exists()


def test_changing_a_key_keeps_to_the_roles_purposes(client, organization):
    # given
    key, _raw = api_key_create(
        organization=organization, name="CRM", scopes="messages:send"
    )
    admin = StaffMemberFactory(organization=organization, role="admin").user
    client.force_login(admin)
    # when
    client.post(
        reverse("admin:api_apikey_change", args=[key.pk]),
        {
            "name": "CRM",
            "scopes": ["messages:send"],
            "purposes": ["marketing"],
            "rate_per_minute": 600,
        },
    )
    # then
    key.refresh_from_db()
    assert key.purposes == ["marketing"]


def test_the_command_takes_purposes(organization, capsys):
    call_command(
        "create_api_key",
        organization=organization.slug,
        name="CRM",
        scopes="messages:send",
        purposes="marketing",
    )
    assert ApiKey.objects.get().purposes == ["marketing"]
