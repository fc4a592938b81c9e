"""consent.limits admits sends under the patient's lock, counting what it admits."""

import datetime
import threading
import zoneinfo

import pytest

from django.db import connection, connections

from consent import limits, services
from consent.limits import SendRef, SendRequest, sends_admit, sends_release
from consent.models import SendRecord
from consent.vocabulary import Outcome, Reason
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# A Tuesday at 10:00 in Paris: in every window, no holiday.
TUESDAY_10H = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
SATURDAY_10H = datetime.datetime(2026, 3, 14, 10, 0, tzinfo=PARIS)


@pytest.fixture
def patient(organization):
    from clinic.services import patient_save

    return patient_save(
        patient=PatientFactory.build(
            organization=organization, given_name="Maëlle", phone="+33612345678"
        )
    )


@pytest.fixture
def newsletter(organization, patient):
    topic = TopicFactory(
        organization=organization, slug="newsletter", purpose="marketing"
    )
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=30),
    )
    return topic


def request(patient, topic, key, channel="sms", ref=None, **extra):
    return SendRequest(
        ref=ref if ref is not None else hash((key, channel)) % 10**9,
        patient_id=patient.pk,
        topic=topic,
        channel=channel,
        message_key=key,
        **extra,
    )


def test_a_batch_never_admits_more_than_the_cap(patient, newsletter):
    """Five campaign SMS due together with a cap of two a week: two leave."""
    # given: the organization allows two campaign messages a week
    assert (
        services.policy_get(organization=patient.organization).marketing_per_week == 2
    )
    batch = [request(patient, newsletter, f"m{n}", ref=n) for n in range(5)]
    # when
    decisions = sends_admit(batch, at=TUESDAY_10H)
    # then
    assert [decisions[n].outcome for n in range(5)] == [Outcome.ALLOW] * 2 + [
        Outcome.SUPPRESS
    ] * 3
    assert {decisions[n].reason for n in range(2, 5)} == {Reason.FREQUENCY_CAP}
    assert SendRecord.objects.filter(patient=patient).count() == 2


def test_a_later_batch_counts_what_an_earlier_one_admitted(patient, newsletter):
    # given: a first worker admitted two
    sends_admit(
        [request(patient, newsletter, "m1", ref=1), request(patient, newsletter, "m2")],
        at=TUESDAY_10H,
    )
    # when: another batch comes a minute later
    later = sends_admit(
        [request(patient, newsletter, "m3", ref=3)],
        at=TUESDAY_10H + datetime.timedelta(minutes=1),
    )
    # then
    assert later[3].reason == Reason.FREQUENCY_CAP


def test_a_message_on_two_channels_counts_once(patient, newsletter):
    """The inbox copy and the SMS of one message are one message for the cap."""
    batch = [
        request(patient, newsletter, key, channel, ref=ref)
        for ref, (key, channel) in enumerate(
            [("m1", "inapp"), ("m1", "sms"), ("m2", "inapp"), ("m2", "sms")]
        )
    ]
    decisions = sends_admit(
        [*batch, request(patient, newsletter, "m3", ref=9)], at=TUESDAY_10H
    )
    assert all(decisions[ref].allowed for ref in range(4))
    assert decisions[9].reason == Reason.FREQUENCY_CAP


def test_a_released_admission_gives_its_room_back(patient, newsletter):
    # given: two admitted, the second failed before it left
    sends_admit(
        [
            request(patient, newsletter, "m1", ref=1),
            request(patient, newsletter, "m2", ref=2),
        ],
        at=TUESDAY_10H,
    )
    # when
    released = sends_release([SendRef(patient.pk, "m2", "sms")])
    # then
    assert released == 1
    again = sends_admit([request(patient, newsletter, "m3", ref=3)], at=TUESDAY_10H)
    assert again[3].allowed


def test_deferred_and_suppressed_sends_reserve_nothing(patient, organization):
    care = TopicFactory(organization=organization, slug="results", purpose="care")
    night = datetime.datetime(2026, 3, 10, 23, 0, tzinfo=PARIS)
    decisions = sends_admit([request(patient, care, "r1", ref=1)], at=night)
    assert decisions[1].outcome == Outcome.DEFER
    assert not SendRecord.objects.exists()


def test_sends_admit_counts_the_budget_as_planning_does(patient, organization):
    """The worker's count (loaded rows) and planning's (database aggregates)
    are one definition: equal on the same history."""
    from consent import history
    from consent.selectors import rules_for

    care = TopicFactory(organization=organization, slug="care", purpose="care")
    survey = TopicFactory(organization=organization, slug="survey", purpose="feedback")
    code = TopicFactory(organization=organization, slug="codes", purpose="security")
    for n, (topic, hours, digest) in enumerate(
        [
            (care, 1, "a"),
            (care, 30, "b"),
            (survey, 5, "a"),
            (code, 2, "c"),
            (care, 200, "a"),
        ]
    ):
        limits.send_record(
            patient=patient,
            topic=topic,
            channel="sms",
            message_key=f"k{n}",
            content_hash=digest,
            sent_at=TUESDAY_10H - datetime.timedelta(hours=hours),
        )
    for topic in (care, survey, code):
        rules = rules_for(topic)
        rows = SendRecord.objects.filter(history.period(rules, TUESDAY_10H))
        loaded = [history.Sent(*r) for r in rows.values_list(*history.SENT_FIELDS)]
        for digest in ("", "a", "c"):
            aggregated = history.from_aggregates(
                rows.exclude(message_key="k0").aggregate(
                    **history.aggregates(rules, TUESDAY_10H, digest)
                )
            )
            counted = history.count(
                rules, TUESDAY_10H, loaded, exclude={"k0"}, content_hash=digest
            )
            assert counted == aggregated


def test_appointment_reminders_never_lose_to_routine_care(patient, organization):
    """A daily medication reminder uses the week's budget by Saturday; the
    appointment reminder that day still leaves, and routine care stops."""
    # given: routine care every day since Sunday, six messages (the budget)
    medication = TopicFactory(
        organization=organization, slug="medication", purpose="care"
    )
    appointments = TopicFactory(
        organization=organization, slug="appointments", purpose="care", essential=True
    )
    for day in range(6):
        limits.send_record(
            patient=patient,
            topic=medication,
            channel="sms",
            message_key=f"med-{day}",
            sent_at=SATURDAY_10H - datetime.timedelta(days=day + 1),
        )
    # when: Saturday's routine reminder and appointment reminder are due together
    decisions = sends_admit(
        [
            request(patient, medication, "med-sat", ref=1, planned_at=SATURDAY_10H),
            request(
                patient,
                appointments,
                "appointment",
                ref=2,
                planned_at=SATURDAY_10H + datetime.timedelta(minutes=1),
            ),
        ],
        at=SATURDAY_10H,
    )
    # then
    assert decisions[2].allowed
    assert decisions[1].reason == Reason.FATIGUE_BUDGET


def test_a_higher_class_is_admitted_first_in_a_batch(patient, organization, newsletter):
    """With room for one more message, the batch's routine care takes it before
    the campaign, whichever was planned first."""
    care = TopicFactory(organization=organization, slug="care", purpose="care")
    policy = services.policy_get(organization=organization)
    policy.fatigue_budget = 3  # routine care may use 3, campaigns stop at 1
    policy.save()
    limits.send_record(
        patient=patient,
        topic=care,
        channel="sms",
        message_key="earlier",
        sent_at=TUESDAY_10H - datetime.timedelta(days=1),
    )
    decisions = sends_admit(
        [
            request(patient, newsletter, "campaign", ref=1, planned_at=TUESDAY_10H),
            request(
                patient,
                care,
                "care",
                ref=2,
                planned_at=TUESDAY_10H + datetime.timedelta(minutes=5),
            ),
        ],
        at=TUESDAY_10H,
    )
    assert decisions[2].allowed
    assert decisions[1].reason == Reason.FATIGUE_BUDGET


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
def test_two_workers_at_the_same_instant_admit_no_more_than_the_cap(
    patient, newsletter
):
    """Two transactions admitting for one patient at once: the second waits
    for the first's lock and sees its admissions."""
    # given: both workers have read nothing yet and start together
    barrier = threading.Barrier(2)
    results: dict[str, dict] = {}

    def worker(name: str, keys: list[str]) -> None:
        try:
            barrier.wait(timeout=10)
            results[name] = sends_admit(
                [
                    request(patient, newsletter, key, ref=i)
                    for i, key in enumerate(keys)
                ],
                at=TUESDAY_10H,
            )
        finally:
            connections.close_all()

    # when
    threads = [
        threading.Thread(target=worker, args=("a", ["a1", "a2"])),
        threading.Thread(target=worker, args=("b", ["b1", "b2"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then: two admitted in all, not four
    admitted = sum(d.allowed for answers in results.values() for d in answers.values())
    assert admitted == 2
    assert SendRecord.objects.filter(patient=patient).count() == 2


def test_a_delivery_admitted_again_keeps_one_record(patient, newsletter):
    """A delivery re-claimed after its holder stalled is admitted again on the
    record it already has: the patient's history shows one send, not two."""
    # given: admitted once, its worker stalled
    sends_admit([request(patient, newsletter, "m1", ref=1)], at=TUESDAY_10H)
    # when: the next holder admits it again
    again = sends_admit(
        [request(patient, newsletter, "m1", ref=1)],
        at=TUESDAY_10H + datetime.timedelta(minutes=6),
    )
    # then
    assert again[1].allowed
    assert SendRecord.objects.filter(patient=patient, message_key="m1").count() == 1
