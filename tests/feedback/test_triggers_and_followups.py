"""Surveys that send themselves, complaints that hold them back, and
detractors who get a follow-up conversation."""

import datetime

import pytest

from django.core.exceptions import ValidationError

from clinic.models import AppointmentStatus, Team
from conversations.models import Conversation
from feedback.followups import follow_up_open
from feedback.models import SurveyInvitation
from feedback.services import response_submit, survey_invite
from feedback.triggers import surveys_invite_due
from tests.clinic.factories import AppointmentFactory, SiteFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def after_visit(survey):
    survey.trigger = "appointment"
    survey.trigger_delay_hours = 2
    survey.save()
    return survey


def visit(patient, ended_hours_ago, status=AppointmentStatus.FULFILLED):
    ends = NOW - datetime.timedelta(hours=ended_hours_ago)
    return AppointmentFactory(
        patient=patient,
        starts_at=ends - datetime.timedelta(minutes=30),
        ends_at=ends,
        status=status,
    )


def test_invites_after_the_delay_once(after_visit, patient):
    appointment = visit(patient, ended_hours_ago=1)
    assert surveys_invite_due(NOW) == 0  # not yet: two hours after
    type(appointment).objects.filter(pk=appointment.pk).update(
        starts_at=NOW - datetime.timedelta(hours=4),
        ends_at=NOW - datetime.timedelta(hours=3),
    )
    assert surveys_invite_due(NOW) == 1
    invitation = SurveyInvitation.objects.get()
    assert invitation.site == appointment.site
    assert invitation.trigger_ref == f"appointment:{appointment.pk}"
    assert surveys_invite_due(NOW) == 0  # never twice


def test_only_fulfilled_and_recent_appointments(after_visit, patient):
    visit(patient, ended_hours_ago=5, status=AppointmentStatus.NO_SHOW)
    visit(patient, ended_hours_ago=24 * 30)  # long ago
    assert surveys_invite_due(NOW) == 0


def test_open_complaint_holds_surveys_back(after_visit, patient):
    complaint = Conversation.objects.create(
        organization=patient.organization, patient=patient, kind="complaint"
    )
    visit(patient, ended_hours_ago=3)
    assert surveys_invite_due(NOW) == 0
    with pytest.raises(ValidationError, match="open complaint"):
        survey_invite(survey=after_visit, patient=patient)
    complaint.status = "closed"
    complaint.save()
    assert surveys_invite_due(NOW) == 1


def test_after_conversation_closed(survey, patient):
    survey.trigger = "conversation"
    survey.trigger_delay_hours = 1
    survey.save()
    Conversation.objects.create(
        organization=patient.organization,
        patient=patient,
        status="closed",
        closed_at=NOW - datetime.timedelta(hours=2),
    )
    assert surveys_invite_due(NOW) == 1
    assert surveys_invite_due(NOW) == 0


def nps(survey):
    return survey.questions.get(kind="nps")


def test_detractor_opens_follow_up_for_the_sites_support_team(
    survey, patient, organization
):
    site = SiteFactory(organization=organization)
    general = Team.objects.create(
        organization=organization, name="All", handles_feedback=True
    )
    local = Team.objects.create(
        organization=organization, site=site, name="Desk", handles_feedback=True
    )
    invitation = survey_invite(survey=survey, patient=patient, site=site)
    response = response_submit(invitation=invitation, answers={nps(survey).pk: 6})
    conversation = response.follow_up
    assert conversation.kind == "follow_up"
    assert conversation.team == local
    assert conversation.site == site
    assert conversation.patient == patient
    assert conversation.first_response_due_at is not None
    # Without a site team, the organization-wide one.
    other = survey_invite(survey=survey, patient=patient, trigger_ref="x")
    response = response_submit(invitation=other, answers={nps(survey).pk: 0})
    assert response.follow_up.team == general


def test_promoters_and_passives_get_no_follow_up(survey, patient):
    for score, ref in ((7, "a"), (10, "b")):
        invitation = survey_invite(survey=survey, patient=patient, trigger_ref=ref)
        assert (
            response_submit(
                invitation=invitation, answers={nps(survey).pk: score}
            ).follow_up
            is None
        )
    assert not Conversation.objects.exists()


def test_low_csat_is_a_detractor(survey, patient):
    csat = survey.questions.get(kind="csat")
    invitation = survey_invite(survey=survey, patient=patient)
    response = response_submit(
        invitation=invitation, answers={nps(survey).pk: 9, csat.pk: 2}
    )
    assert response.follow_up is not None


def test_staff_flag_opens_follow_up_once(survey, patient, django_user_model):
    staff = django_user_model.objects.create(username="desk")
    invitation = survey_invite(survey=survey, patient=patient)
    response = response_submit(invitation=invitation, answers={nps(survey).pk: 9})
    first = follow_up_open(response, flagged_by=staff)
    assert follow_up_open(response) == first
    response.refresh_from_db()
    assert response.flagged_by == staff
    assert Conversation.objects.count() == 1


def test_anonymous_detractor_has_nobody_to_follow_up(survey, patient):
    survey.anonymous = True
    survey.save()
    invitation = survey_invite(survey=survey, patient=patient)
    response = response_submit(invitation=invitation, answers={nps(survey).pk: 1})
    assert response.follow_up is None
    assert not Conversation.objects.exists()
