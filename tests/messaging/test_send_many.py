"""message_send_many plans like message_send, set-wise, and never twice."""

import datetime

import pytest
import time_machine

from clinic.models import Patient
from clinic.services import patient_save
from consent import services as consent_services
from consent.errors import ConsentError
from messaging.models import Delivery, Message
from messaging.services import message_send, message_send_many
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture
def topic(organization):
    topic = TopicFactory(
        organization=organization,
        slug="flu",
        purpose="marketing",
        channels=["inapp", "sms", "email"],
    )
    TemplateFactory(
        topic=topic, channel="inapp", body="Vaccin, {{ patient_first_name }} ?"
    )
    TemplateFactory(
        topic=topic, channel="sms", body="Vaccin grippe, {{ patient_first_name }}"
    )
    TemplateFactory(
        topic=topic,
        channel="email",
        language="en",
        subject="Flu",
        body="Flu shot, {{ patient_first_name }}",
    )
    return topic


@pytest.fixture
def delivery_tasks_captured(django_capture_on_commit_callbacks):
    """The delivery tasks a plan queues after its commit are captured, never
    run: these tests look at what was planned."""
    with django_capture_on_commit_callbacks() as callbacks:
        yield callbacks


def population(organization, size):
    patients = []
    for n in range(size):
        patient = patient_save(
            patient=PatientFactory.build(
                organization=organization,
                phone="" if n % 4 == 0 else "+33612345678",
                preferred_language="en" if n % 3 == 0 else "fr",
            )
        )
        if n % 2 == 0:
            consent_services.consent_grant(
                patient=patient, purpose="marketing", source="portal"
            )
        if n % 5 == 0:
            consent_services.consent_withdraw(
                patient=patient,
                purpose="marketing",
                channel="sms",
                source="sms-keyword",
            )
        patients.append(patient)
    return patients


def outcome(message):
    return sorted(
        (d.channel, d.status, d.reason, d.body) for d in message.deliveries.all()
    )


MESSAGE_FIELDS = (
    "organization_id",
    "topic_id",
    "origin",
    "origin_ref",
    "direction",
    "sensitivity",
    "language",
    "subject",
    "body",
    "context",
    "why",
    "free_text",
    "content_hash",
    "conversation_id",
    "sender_id",
    "read_at",
    "escalate_to_staff_at",
    "created_at",
)
DELIVERY_FIELDS = (
    "channel",
    "address",
    "to_address_being_verified",
    "status",
    "reason",
    "subject",
    "body",
    "body_html",
    "provider",
    "provider_id",
    "error_code",
    "attempts",
    "next_attempt_at",
    "lease_expires_at",
    "sent_at",
)


def written(message):
    """Everything a planned message row and its deliveries carry, but ids,
    codes and the deliveries' write time (the authenticity code is replaced
    by a placeholder where a notice quotes it)."""
    code = message.authenticity_code
    return (
        tuple(getattr(message, f) for f in MESSAGE_FIELDS),
        sorted(
            tuple(
                str(getattr(d, f)).replace(code, "<code>")
                if f in ("body", "body_html")
                else getattr(d, f)
                for f in DELIVERY_FIELDS
            )
            for d in message.deliveries.all()
        ),
    )


@pytest.mark.usefixtures("delivery_tasks_captured")
def test_bulk_plans_what_one_by_one_plans(organization, topic):
    # given
    patients = population(organization, 20)
    # when
    planned = message_send_many(
        patients=Patient.objects.for_organization(organization),
        topic=topic,
        origin="campaign",
        page_size=7,
    )
    # then
    assert planned == 20
    bulk = {m.patient_id: outcome(m) for m in Message.objects.all()}
    Message.objects.all().delete()
    single = {
        p.pk: outcome(message_send(patient=p, topic=topic, origin="campaign"))
        for p in patients
    }
    assert bulk == single
    assert any(("sms", "suppressed", "opted_out", "") in rows for rows in bulk.values())
    assert any(("sms", "suppressed", "no_opt_in", "") in rows for rows in bulk.values())


@pytest.mark.usefixtures("delivery_tasks_captured")
def test_bulk_writes_every_column_as_one_by_one(organization):
    """Every column of the rows written (by COPY on PostgreSQL, bulk_create
    elsewhere) equals what ``message_send`` writes: context, why, hashes,
    HTML escaping, confidential notices quoting the message's own code."""
    # given
    topic = TopicFactory(
        organization=organization,
        slug="results",
        purpose="care",
        channels=["sms", "email", "inapp"],
    )
    TemplateFactory(
        topic=topic,
        channel="email",
        subject="{{ site_name }} : résultats",
        body="Bonjour {{ patient_first_name }} {{ patient_last_name }}\n\t\\ {{ site_name }}",
        body_html="<p>{{ patient_first_name }} &amp; {{ site_name }}</p>",
    )
    TemplateFactory(
        topic=topic,
        channel="sms",
        sensitivity="confidential",
        body="Résultat d’analyse : {{ patient_first_name }}",
    )
    patients = population(organization, 9)
    Patient.objects.filter(pk=patients[0].pk).update(given_name='<Zoé> & "Lou"')
    audience = Patient.objects.for_organization(organization)
    values = {"site_name": "Lilas {Belleville}"}
    # when
    planned = message_send_many(
        patients=audience,
        topic=topic,
        origin="api",
        origin_ref="key:1",
        context=values,
        idempotency_prefix="batch",
        page_size=4,
    )
    # then
    assert planned == 9
    bulk = {m.patient_id: written(m) for m in Message.objects.all()}
    assert len({m.authenticity_code for m in Message.objects.all()}) == 9
    Message.objects.all().delete()
    single = {
        p.pk: written(
            message_send(
                patient=p,
                topic=topic,
                origin="api",
                origin_ref="key:1",
                context=values,
                idempotency_key=f"batch:{p.pk}",
            )
        )
        for p in audience
    }
    assert bulk == single
    assert any("<code>" in str(rows) for rows in bulk.values())
    assert any("&lt;Zoé&gt;" in str(rows) for rows in bulk.values())


@pytest.mark.usefixtures("delivery_tasks_captured")
def test_decisions_given_are_the_ones_planned_with(organization, topic):
    """A caller that already decided (a campaign) is not asked again."""
    from consent.policy import Decision

    patients = population(organization, 4)
    no = Decision("suppress", "opted_out")
    decisions = {p.pk: {"inapp": no, "sms": no, "email": no} for p in patients}
    message_send_many(
        patients=Patient.objects.for_organization(organization),
        topic=topic,
        origin="campaign",
        decisions=decisions,
    )
    assert set(Delivery.objects.values_list("status", "reason")) == {
        ("suppressed", "opted_out")
    }


def test_page_facts_decide_as_decide_many(organization, topic):
    """The bulk form reads consent's facts once for every channel; its answers
    are ``decide_many``'s, channel by channel."""
    from consent.facts import PageFacts
    from consent.selectors import decide_many

    patients = population(organization, 12)
    ids = [p.pk for p in patients]
    facts = PageFacts(ids, topic, topic.channels, WEEKDAY_NOON_PARIS)
    for channel in topic.channels:
        expected = decide_many(ids, topic, channel, WEEKDAY_NOON_PARIS)
        assert {pk: facts.decide(pk, channel) for pk in ids} == expected


def test_page_facts_take_the_latest_state_by_when_it_happened(organization, topic):
    """Between a channel's own state and the all-channels one, the one that
    happened last decides, whichever was recorded first (a backdated paper
    consent is recorded after a later change)."""
    from consent.facts import PageFacts
    from consent.selectors import decide_many

    day = WEEKDAY_NOON_PARIS - datetime.timedelta(days=2)
    withdrawn_last, granted_last = (
        patient_save(
            patient=PatientFactory.build(
                organization=organization, phone="+33612345678"
            )
        )
        for _ in range(2)
    )
    # In the order recorded; each patient's first happened last.
    for patient, granted, channel, hour in (
        (withdrawn_last, False, "sms", 3),
        (withdrawn_last, True, "", 1),
        (granted_last, True, "", 2),
        (granted_last, False, "sms", 0),
    ):
        record = (
            consent_services.consent_grant
            if granted
            else consent_services.consent_withdraw
        )
        record(
            patient=patient,
            purpose="marketing",
            channel=channel,
            source="portal",
            occurred_at=day + datetime.timedelta(hours=hour),
        )
    ids = [withdrawn_last.pk, granted_last.pk]
    facts = PageFacts(ids, topic, topic.channels, WEEKDAY_NOON_PARIS)
    sms = {pk: facts.decide(pk, "sms") for pk in ids}
    assert sms == decide_many(ids, topic, "sms", WEEKDAY_NOON_PARIS)
    assert sms[withdrawn_last.pk].outcome == "suppress"
    assert sms[granted_last.pk].outcome != "suppress"
    assert facts.decide(withdrawn_last.pk, "email").outcome != "suppress"


@pytest.mark.usefixtures("delivery_tasks_captured")
def test_a_code_another_planner_gave_meanwhile_is_drawn_again(
    organization, topic, monkeypatch
):
    """Two planners of one organization may draw the same authenticity code
    before either has written it: the second to write draws its page's codes
    again rather than failing the page."""
    from messaging.services import bulk

    audience = [p.pk for p in population(organization, 5)]
    other = patient_save(patient=PatientFactory.build(organization=organization))
    draws = []
    real_fresh_codes = bulk.fresh_codes

    def fresh_codes_then_another_planner_writes(organization_id, count):
        codes = real_fresh_codes(organization_id, count)
        if not draws:
            # The other planner's page, written after our check: one of
            # our codes on its message.
            message_send(patient=other, topic=topic, origin="system", text="Hi")
            Message.objects.filter(patient=other).update(authenticity_code=codes[2])
        draws.append(codes)
        return codes

    monkeypatch.setattr(bulk, "fresh_codes", fresh_codes_then_another_planner_writes)
    planned = message_send_many(
        patients=Patient.objects.filter(pk__in=audience),
        topic=topic,
        origin="campaign",
    )
    assert planned == 5
    assert len(draws) == 2
    codes = list(Message.objects.values_list("authenticity_code", flat=True))
    assert len(codes) == len(set(codes)) == 6
    assert Delivery.objects.filter(message__patient_id__in=audience).count() >= 5


@pytest.mark.usefixtures("delivery_tasks_captured")
def test_bulk_is_idempotent_with_a_prefix(organization, topic):
    population(organization, 5)
    audience = Patient.objects.for_organization(organization)
    assert (
        message_send_many(
            patients=audience,
            topic=topic,
            origin="campaign",
            idempotency_prefix="campaign-1",
        )
        == 5
    )
    assert (
        message_send_many(
            patients=audience,
            topic=topic,
            origin="campaign",
            idempotency_prefix="campaign-1",
        )
        == 0
    )
    assert Message.objects.count() == 5


@pytest.mark.usefixtures("delivery_tasks_captured")
def test_bulk_query_count_does_not_grow_with_the_audience(
    organization, topic, django_assert_max_num_queries
):
    population(organization, 40)
    with django_assert_max_num_queries(30):
        message_send_many(
            patients=Patient.objects.for_organization(organization),
            topic=topic,
            origin="campaign",
        )
    assert Delivery.objects.filter(channel="inapp").count() == 40


def test_another_organizations_patient_is_refused_and_nothing_written(
    organization, topic
):
    stranger = PatientFactory(organization=OrganizationFactory(slug="far-away"))
    with pytest.raises(ConsentError, match="another organization"):
        message_send_many(
            patients=Patient.objects.filter(pk=stranger.pk),
            topic=topic,
            origin="campaign",
        )
    assert not Message.objects.exists()
