"""Every share on the dashboard, for any history: its numerator counts rows of
its denominator (0 ≤ numerator ≤ denominator) and its value is 0–100 %.

Hypothesis writes random histories for two organizations — patients (with
and without portal accounts, registered early or late, erased), messages in
and out with reads and deliveries, consent withdrawals of topics and whole
purposes, survey invitations and answers, conversations, appointments with
and without reminders — at instants before, inside, at the edges of and after
the period, then computes the whole dashboard for one organization (all
sites, or one). ``Figure`` checks each rate through ``kpis.Rate`` as it is
made, so an impossible count fails here whether or not the loop below sees it.
"""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import AppointmentStatus
from insights import kpis
from messaging.models import DeliveryStatus
from outreach.reminders.models import Reminder
from tests.clinic.factories import OrganizationFactory, PatientFactory, SiteFactory
from tests.insights.builders import (
    appointment,
    conversation,
    delivery,
    invitation,
    message,
    portal_patient,
    registered,
    response,
    survey_with_questions,
    topic,
    withdrawal,
)
from tests.outreach.reminders_factories import ReminderRuleFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
START = datetime.datetime(2026, 3, 1, tzinfo=UTC)
END = datetime.datetime(2026, 4, 1, tzinfo=UTC)
SECOND = datetime.timedelta(seconds=1)
# Instants that matter: long before, just before, at and just after each edge
# of the period, inside it, and after it.
INSTANTS = [
    datetime.datetime(2024, 6, 1, tzinfo=UTC),
    START - datetime.timedelta(days=20),
    START - SECOND,
    START,
    START + datetime.timedelta(days=9, hours=9),
    START + datetime.timedelta(days=20, hours=23, minutes=30),
    END - SECOND,
    END,
    END + datetime.timedelta(days=3),
]
PERIODS = [(START, END), (START + datetime.timedelta(days=9), END - SECOND)]

at = st.sampled_from(INSTANTS)
maybe_at = st.none() | at
index = st.integers(min_value=0, max_value=7)  # taken modulo the list's length
channels = st.sampled_from(["inapp", "email", "sms", "voice"])
statuses = st.sampled_from(DeliveryStatus.values)

patients = st.lists(
    st.fixed_dictionaries(
        {
            "portal": st.booleans(),
            "last_login": maybe_at,
            "registered": at,
            "erased": st.booleans(),
        }
    ),
    min_size=1,
    max_size=4,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "patient": index,
            "topic": index,
            "at": at,
            "inbound": st.booleans(),
            "read": maybe_at,
            "deliveries": st.dictionaries(channels, statuses, max_size=2),
        }
    ),
    max_size=8,
)
withdrawals = st.lists(
    st.fixed_dictionaries(
        {
            "patient": index,
            "topic": st.none() | index,
            "purpose": st.sampled_from(["care", "marketing"]),
            "at": at,
        }
    ),
    max_size=6,
)
invitations = st.lists(
    st.fixed_dictionaries({"patient": index, "at": at, "answered": maybe_at}),
    max_size=3,
)
responses = st.lists(
    st.fixed_dictionaries(
        {
            "patient": st.none() | index,
            "at": at,
            "csat": st.integers(1, 5),
            "nps": st.integers(0, 10),
        }
    ),
    max_size=3,
)
conversations = st.lists(
    st.fixed_dictionaries(
        {
            "patient": index,
            "at": at,
            "answered_after_hours": st.none() | st.integers(0, 30),
            "closed": maybe_at,
            "replies": st.integers(0, 3),
            "reopened": st.integers(0, 2),
        }
    ),
    max_size=4,
)
appointments = st.lists(
    st.fixed_dictionaries(
        {
            "patient": index,
            "status": st.sampled_from(AppointmentStatus.values),
            "at": at,
            "reminder": st.sampled_from(["", "sent", "pending"]),
        }
    ),
    max_size=5,
)
histories = st.fixed_dictionaries(
    {
        "patients": patients,
        "topics": st.lists(
            st.sampled_from(["care", "marketing"]), min_size=1, max_size=3
        ),
        "messages": messages,
        "withdrawals": withdrawals,
        "invitations": invitations,
        "responses": responses,
        "conversations": conversations,
        "appointments": appointments,
    }
)


def _pick(rows: list, n: int):
    return rows[n % len(rows)]


def build(history: dict):
    """One organization with the history written; returns it and its site."""
    organization = OrganizationFactory()
    site = SiteFactory(organization=organization)
    people = []
    for p in history["patients"]:
        fields = {"erased_at": START} if p["erased"] else {}
        if p["portal"]:
            person = portal_patient(organization, last_login=p["last_login"], **fields)
        else:
            person = PatientFactory(organization=organization, **fields)
        people.append(registered(person, p["registered"]))
    topics = [
        topic(organization, f"t{n}", purpose=purpose)
        for n, purpose in enumerate(history["topics"])
    ]
    for m in history["messages"]:
        direction = "in" if m["inbound"] else "out"
        row = message(
            _pick(people, m["patient"]),
            _pick(topics, m["topic"]),
            created_at=m["at"],
            direction=direction,
            read_at=m["read"],
        )
        if direction == "out":
            for channel, status in m["deliveries"].items():
                delivery(row, channel, status)
    for w in history["withdrawals"]:
        withdrawal(
            _pick(people, w["patient"]),
            topic=None if w["topic"] is None else _pick(topics, w["topic"]),
            purpose=w["purpose"] if w["topic"] is None else "",
            occurred_at=w["at"],
        )
    survey, _nps, _csat = survey_with_questions(organization)
    for i in history["invitations"]:
        invitation(
            survey,
            _pick(people, i["patient"]),
            created_at=i["at"],
            answered_at=i["answered"],
            site=site,
        )
    for r in history["responses"]:
        patient = None if r["patient"] is None else _pick(people, r["patient"])
        response(
            survey, submitted_at=r["at"], patient=patient, csat=r["csat"], nps=r["nps"]
        )
    for c in history["conversations"]:
        hours = c["answered_after_hours"]
        conversation(
            _pick(people, c["patient"]),
            created_at=c["at"],
            site=site,
            first_response_at=None
            if hours is None
            else c["at"] + datetime.timedelta(hours=hours),
            status="closed" if c["closed"] else "open",
            closed_at=c["closed"],
            staff_reply_count=c["replies"],
            reopened_count=c["reopened"],
        )
    rule = ReminderRuleFactory(organization=organization)
    for a in history["appointments"]:
        row = appointment(
            _pick(people, a["patient"]), site, a["status"], starts_at=a["at"]
        )
        if a["reminder"]:
            Reminder.objects.create(
                appointment=row,
                rule=rule,
                offset="48h",
                due_at=row.starts_at - datetime.timedelta(hours=48),
                status=a["reminder"],
            )
    return organization, site


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=histories,
    other=histories,
    period=st.sampled_from(PERIODS),
    by_site=st.booleans(),
)
def test_no_figure_counts_more_than_its_denominator(history, other, period, by_site):
    # given: the organization's history, and another's beside it
    organization, site = build(history)
    build(other)
    scope = kpis.Scope(
        organization=organization,
        site=site if by_site else None,
        start=period[0],
        end=period[1],
    )
    # when
    board = kpis.dashboard(scope)
    # then
    for figure in board.figures:
        if figure.numerator is not None:
            assert 0 <= figure.numerator <= figure.denominator, figure.key
        if figure.unit == "percent" and figure.value is not None:
            assert 0.0 <= figure.value <= 100.0, figure.key
            assert figure.numerator is not None, figure.key
        if figure.unit == "percent" and figure.denominator == 0:
            assert figure.value is None, figure.key
        if figure.unit == "nps" and figure.value is not None:
            assert -100.0 <= figure.value <= 100.0, figure.key
        if figure.unit == "score" and figure.value is not None:
            assert 1.0 <= figure.value <= 5.0, figure.key
