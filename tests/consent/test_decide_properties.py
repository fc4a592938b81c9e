"""Properties of the consent policy that hold for any data (hypothesis)."""

import datetime
import random
import uuid
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import limits, services
from consent.models import ConsentState
from consent.policy import History, PatientFacts, evaluate, zone
from consent.selectors import decide, decide_many, rules_for
from consent.vocabulary import Outcome, Reason
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.consent.population_support import build_random_population, rules_fixture

pytestmark = pytest.mark.django_db
DB_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
ZONES = ["Europe/Paris", "America/New_York"]
# Instants throughout 2026, including both daylight-saving changes of both zones.
instants = st.integers(min_value=0, max_value=365 * 24 * 60 - 1).map(
    lambda minutes: START + datetime.timedelta(minutes=minutes)
)
dst_days = st.sampled_from(
    [
        datetime.date(2026, 3, 29),
        datetime.date(2026, 10, 25),  # Paris
        datetime.date(2026, 3, 8),
        datetime.date(2026, 11, 1),
    ]  # New York
)
dst_instants = st.tuples(
    dst_days, st.integers(min_value=-36 * 60, max_value=36 * 60)
).map(
    lambda pair: (
        datetime.datetime.combine(pair[0], datetime.time(12), datetime.UTC)
        + datetime.timedelta(minutes=pair[1])
    )
)
windows = (
    st.tuples(st.integers(0, 22), st.integers(1, 23))
    .filter(lambda p: p[0] < p[1])
    .map(
        lambda p: (datetime.time(p[0], 0), datetime.time(p[1], 30 if p[1] < 23 else 0))
    )
)


def make_patient(organization, time_zone="Europe/Paris"):
    from clinic.services import patient_save

    return patient_save(
        patient=PatientFactory.build(organization=organization, time_zone=time_zone)
    )


@DB_SETTINGS
@given(
    events=st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(["purpose", "topic"]),
            st.sampled_from(["", "email", "sms"]),
            instants,
        ),
        max_size=8,
    ),
    at=instants,
)
def test_marketing_is_never_allowed_without_an_opt_in_after_the_last_withdrawal(
    organization, events, at
):
    """Allowed marketing implies a grant covering the channel, later than any covering withdrawal."""
    # given
    patient = make_patient(organization)
    newsletter = TopicFactory(
        organization=organization, slug="newsletter", purpose="marketing"
    )
    recorded = []
    for granted, scope, channel, when in events:
        target = (
            {"purpose": "marketing"} if scope == "purpose" else {"topic": newsletter}
        )
        recorded.append(
            services.consent_record(
                patient=patient,
                granted=granted,
                source="portal",
                channel=channel,
                occurred_at=when,
                **target,
            )
        )
    for channel in ("email", "sms"):
        # when
        decision = decide(patient, newsletter, channel, at)
        # then
        covering = [e for e in recorded if e.channel in ("", channel)]
        if decision.outcome != Outcome.SUPPRESS:
            grants = [e for e in covering if e.granted]
            withdrawals = [e for e in covering if not e.granted]
            assert grants
            last_grant = max(grants, key=lambda e: (e.occurred_at, e.pk))
            assert all(
                (w.occurred_at, w.pk) < (last_grant.occurred_at, last_grant.pk)
                for w in withdrawals
            )
        elif not covering:
            assert decision.reason == Reason.NO_OPT_IN


@DB_SETTINGS
@given(at=instants, restart=st.booleans())
def test_no_non_security_sms_after_stop_until_start(organization, at, restart):
    """Consent is the current state of the ledger, whatever moment is being planned."""
    # given
    patient = make_patient(organization)
    topics = [
        TopicFactory(organization=organization, slug=f"{p}-t", purpose=p)
        for p in ("care", "marketing", "feedback", "security")
    ]
    services.consent_grant(patient=patient, purpose="marketing", source="portal")
    preferences = services.preferences_get(patient=patient)
    preferences.phone_verified_at = START
    preferences.save()
    # when: the patient texts STOP
    for purpose in ("care", "marketing", "feedback"):
        services.consent_withdraw(
            patient=patient, purpose=purpose, channel="sms", source="sms-keyword"
        )
    # then: every non-security SMS is refused, the security code still goes out
    decisions = {t.purpose: decide(patient, t, "sms", at) for t in topics}
    assert decisions["security"].outcome != Outcome.SUPPRESS
    assert all(
        decisions[p].reason == Reason.OPTED_OUT
        for p in ("care", "marketing", "feedback")
    )
    if restart:
        # when: the patient texts START
        for purpose in ("care", "feedback"):
            services.consent_grant(
                patient=patient, purpose=purpose, channel="sms", source="sms-keyword"
            )
        # then
        decisions = {t.purpose: decide(patient, t, "sms", at) for t in topics}
        assert decisions["care"].reason != Reason.OPTED_OUT
        assert decisions["feedback"].reason != Reason.OPTED_OUT
        assert (
            decisions["marketing"].reason == Reason.OPTED_OUT
        )  # START is no campaign opt-in


@settings(max_examples=400, deadline=None)
@given(
    at=st.one_of(instants, dst_instants),
    time_zone=st.sampled_from(ZONES),
    window=windows,
    purpose=st.sampled_from(["care", "marketing", "feedback"]),
    channel=st.sampled_from(["sms", "voice", "email"]),
)
def test_a_deferred_send_never_lands_in_quiet_hours(
    at, time_zone, window, purpose, channel
):
    """Pure policy check, across both daylight-saving changes of 2026 in Paris and New York."""
    rules = rules_fixture(purpose=purpose)
    facts = PatientFacts(
        patient_id=1,
        time_zone=time_zone,
        email="a@example.org",
        phone="+33612345678",
        phone_is_mobile=True,
        send_from=window[0],
        send_until=window[1],
    )
    decision = evaluate(rules, facts, channel, at)
    if decision.outcome == Outcome.DEFER:
        assert decision.until > at
        local = decision.until.astimezone(zone(time_zone))
        assert window[0] <= local.time() < window[1]
        if purpose == "marketing":
            assert local.weekday() != 6
        # and the moment it was deferred to is itself allowed
        assert evaluate(rules, facts, channel, decision.until).outcome == Outcome.ALLOW


@DB_SETTINGS
@given(
    gaps=st.lists(
        st.integers(min_value=1, max_value=60 * 24 * 3), min_size=1, max_size=40
    ),
    purpose=st.sampled_from(["care", "marketing", "feedback"]),
)
def test_caps_hold_for_any_sequence_of_sends(organization, gaps, purpose):
    # given
    patient = make_patient(organization)
    # Examples share the test's transaction: a fresh slug per example.
    topic = TopicFactory(
        organization=organization, slug=f"t-{uuid.uuid4().hex[:8]}", purpose=purpose
    )
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=START - datetime.timedelta(days=1),
    )
    rules = rules_for(topic)
    at, sent = START, []
    # when: the sender sends whenever the policy allows it (at its deferred time too)
    for gap in gaps:
        at = at + datetime.timedelta(minutes=gap)
        decision = decide(patient, topic, "email", at)
        when = decision.until if decision.outcome == Outcome.DEFER else at
        if decision.outcome == Outcome.DEFER:
            decision = decide(patient, topic, "email", when)
        if decision.allowed:
            limits.send_record(
                patient=patient,
                topic=topic,
                channel="email",
                message_key=f"m{len(sent)}",
                sent_at=when,
            )
            sent.append(when)
            at = max(at, when)
    # then: no period ever holds more than the cap or the budget
    cap, days = {
        "marketing": (rules.marketing_per_week, 7),
        "feedback": (1, rules.survey_every_days),
        "care": (rules.fatigue_budget, rules.fatigue_budget_days),
    }[purpose]
    budget = rules.fatigue_budget - {"care": 0, "feedback": 1, "marketing": 2}[purpose]
    for moment in sent:
        in_cap = [
            s for s in sent if moment - datetime.timedelta(days=days) < s <= moment
        ]
        in_budget = [
            s
            for s in sent
            if moment - datetime.timedelta(days=rules.fatigue_budget_days) < s <= moment
        ]
        assert len(in_cap) <= cap
        assert len(in_budget) <= budget


def test_ledger_rows_cannot_be_altered(organization):
    from django.db import DatabaseError, connection, transaction

    from consent.models import ConsentEvent

    patient = make_patient(organization)
    event = services.consent_grant(
        patient=patient, purpose="marketing", source="portal"
    )
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        ConsentEvent.objects.filter(pk=event.pk).update(action="withdrawn")
    with pytest.raises(PermissionError):
        ConsentEvent.objects.filter(pk=event.pk).delete()
    # Even raw SQL is refused by the database.
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE consent_consentevent SET action = 'withdrawn' WHERE id = %s",
            [event.pk],
        )
    assert ConsentEvent.objects.get(pk=event.pk).action == "granted"


def test_ledger_state_is_rebuilt_and_differences_reported(organization):
    patient = make_patient(organization)
    services.consent_grant(patient=patient, purpose="marketing", source="portal")
    services.consent_withdraw(
        patient=patient, purpose="marketing", channel="sms", source="sms-keyword"
    )
    assert services.consent_state_rebuild() == []
    ConsentState.objects.filter(patient=patient, channel="sms").update(granted=True)
    ConsentState.objects.filter(patient=patient, channel="*").delete()
    differences = services.consent_state_rebuild()
    assert len(differences) == 2
    assert services.consent_state_rebuild() == []
    assert ConsentState.objects.get(patient=patient, channel="sms").granted is False


def test_decide_many_equals_decide_on_random_data(organization):
    """The set-wise loader and the one-by-one loader see the same facts."""
    rng = random.Random(7)
    patients, topics = build_random_population(organization, rng, size=60)
    moments = [
        START + datetime.timedelta(days=rng.randrange(300), minutes=rng.randrange(1440))
        for _ in range(3)
    ]
    for topic in topics:
        for channel in ("inapp", "email", "sms", "voice"):
            for at in moments:
                bulk = decide_many(patients, topic, channel, at, content_hash="h1")
                one_by_one = {
                    p.pk: decide(p, topic, channel, at, content_hash="h1")
                    for p in patients
                }
                assert bulk == one_by_one


def test_zone_names_are_real():
    assert all(zoneinfo.ZoneInfo(name) for name in ZONES)
    assert History() == History(0, 0, False)
