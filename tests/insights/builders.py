"""Rows for the KPI tests, written directly with the fields the figures read
(the services that keep them are tested in their own apps)."""

import datetime
import itertools

from consent.models import ConsentEvent
from conversations.models import Conversation
from feedback.models import Answer, SurveyInvitation, SurveyResponse
from messaging.models import Delivery, Message
from tests.clinic.factories import AppointmentFactory, PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.feedback.factories import QuestionFactory, SurveyFactory

UTC = datetime.UTC
START = datetime.datetime(2026, 3, 1, tzinfo=UTC)
END = datetime.datetime(2026, 4, 1, tzinfo=UTC)
IN_PERIOD = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
BEFORE = datetime.datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
_codes = itertools.count(1)


def hours(n: float) -> datetime.timedelta:
    return datetime.timedelta(hours=n)


def conversation(patient, *, created_at=IN_PERIOD, site=None, **fields):
    row = Conversation.objects.create(
        organization=patient.organization, patient=patient, site=site, **fields
    )
    # created_at is auto_now_add: set the time the test needs afterwards.
    Conversation.objects.filter(pk=row.pk).update(created_at=created_at)
    row.created_at = created_at
    return row


def message(patient, topic, *, created_at=IN_PERIOD, direction="out", **fields):
    return Message.objects.create(
        organization=patient.organization,
        patient=patient,
        topic=topic,
        origin="patient" if direction == "in" else "system",
        direction=direction,
        sensitivity="public",
        language="fr",
        body="…",
        created_at=created_at,
        authenticity_code=f"T{next(_codes):07d}",
        **fields,
    )


def delivery(msg, channel, status, **fields):
    return Delivery.objects.create(
        message=msg, channel=channel, status=status, **fields
    )


def survey_with_questions(organization):
    survey = SurveyFactory(organization=organization)
    nps = QuestionFactory(survey=survey, kind="nps")
    csat = QuestionFactory(survey=survey, kind="csat")
    return survey, nps, csat


def invitation(survey, patient, *, created_at=IN_PERIOD, answered_at=None, site=None):
    return SurveyInvitation.objects.create(
        organization=survey.organization,
        survey=survey,
        patient=patient,
        site=site,
        created_at=created_at,
        expires_at=created_at + datetime.timedelta(days=14),
        answered_at=answered_at,
    )


def response(
    survey, *, submitted_at=IN_PERIOD, patient=None, invitation=None, **scores
):
    row = SurveyResponse.objects.create(
        organization=survey.organization,
        survey=survey,
        patient=patient,
        invitation=invitation,
        submitted_at=submitted_at,
    )
    for question, score in scores.items():
        Answer.objects.create(
            response=row, question=survey.questions.get(kind=question), score=score
        )
    return row


def withdrawal(patient, *, topic=None, purpose="", occurred_at=IN_PERIOD, channel=""):
    return ConsentEvent.objects.create(
        patient=patient,
        topic=topic,
        purpose=purpose,
        channel=channel,
        action="withdrawn",
        source="portal",
        occurred_at=occurred_at,
    )


def portal_patient(organization, *, last_login=None, **fields):
    user = UserFactory(last_login=last_login)
    return PatientFactory(organization=organization, user=user, **fields)


def registered(patient, at):
    """Move a patient's registration (auto_now_add) back in time."""
    type(patient).objects.filter(pk=patient.pk).update(created_at=at)
    patient.created_at = at
    return patient


def appointment(patient, site, status, *, starts_at=IN_PERIOD):
    return AppointmentFactory(
        patient=patient,
        organization=patient.organization,
        site=site,
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
    )


def topic(organization, slug, purpose="care"):
    return TopicFactory(organization=organization, slug=slug, purpose=purpose)
