"""Submit, approve (never by the author), test send, schedule, pause, resume, cancel."""

import datetime

import pytest

from django.core import mail

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services import (
    CampaignError,
    campaign_approve,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_submit,
    campaign_test_send,
)
from consent.models import OrganizationPolicy
from tests.campaigns.conftest import grant, move, patient
from tests.clinic.factories import StaffMemberFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def audience(organization):
    return [patient(organization) for _ in range(3)]


def test_submit_then_approval_by_a_second_staff_member(
    make_campaign, author, approver, audience
):
    # given
    campaign = make_campaign()
    # when
    campaign_submit(campaign=campaign, user=author)
    campaign_approve(campaign=campaign, user=approver)
    # then
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.APPROVED
    assert campaign.approver == approver
    assert campaign.approved_at == WEEKDAY_NOON_PARIS


def test_the_author_cannot_approve_their_own_campaign(make_campaign, author, audience):
    # given
    campaign = make_campaign()
    campaign_submit(campaign=campaign, user=author)
    # when / then
    with pytest.raises(CampaignError, match="another staff member must approve"):
        campaign_approve(campaign=campaign, user=author)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL


def test_approval_needs_the_permission_and_the_same_organization(
    make_campaign, author, audience, organization, other_organization
):
    # given
    campaign = make_campaign()
    campaign_submit(campaign=campaign, user=author)
    colleague = StaffMemberFactory(  # a clinician: no campaign permission
        organization=organization, role="clinician"
    ).user
    outsider = grant(
        StaffMemberFactory(organization=other_organization).user, "approve_campaign"
    )
    # then
    with pytest.raises(CampaignError, match="permission"):
        campaign_approve(campaign=campaign, user=colleague)
    with pytest.raises(CampaignError, match="organization"):
        campaign_approve(campaign=campaign, user=outsider)


def test_an_empty_audience_cannot_be_submitted_nor_approved(
    make_campaign, author, approver, audience
):
    # given
    campaign = make_campaign(language="en")  # the audience is French
    # then
    with pytest.raises(CampaignError, match="No patient matches"):
        campaign_submit(campaign=campaign, user=author)
    move(campaign, "awaiting")
    with pytest.raises(CampaignError, match="No patient matches"):
        campaign_approve(campaign=campaign, user=approver)


def test_nothing_happens_out_of_order(make_campaign, author, approver, audience):
    campaign = make_campaign()
    with pytest.raises(CampaignError, match="draft"):
        campaign_approve(campaign=campaign, user=approver)
    with pytest.raises(CampaignError):
        campaign_schedule(campaign=campaign, user=approver)
    with pytest.raises(CampaignError):
        campaign_pause(campaign=campaign, user=approver)


def test_a_test_send_goes_to_the_staff_members_own_email_marked_as_test(
    make_campaign, author, audience
):
    # given
    campaign = make_campaign()
    # when
    address = campaign_test_send(campaign=campaign, user=author)
    # then
    assert address == author.email
    [sent] = mail.outbox
    assert sent.to == [author.email]
    assert sent.subject.startswith("[TEST]") or sent.subject.startswith("[TEST")
    assert "TEST" in sent.body
    assert "Vaccin grippe, Ana" in sent.body  # the SMS text, with the staff's name
    assert not CampaignRecipient.objects.exists()


def test_schedule_freezes_the_audience_once(make_campaign, approver, audience):
    # given
    campaign = move(make_campaign(), "approved")
    # when
    added = campaign_schedule(campaign=campaign, user=approver)
    # then
    assert added == 3
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert set(
        CampaignRecipient.objects.filter(campaign=campaign).values_list(
            "patient_id", "status", "due_at"
        )
    ) == {(p.pk, "pending", WEEKDAY_NOON_PARIS) for p in audience}


def test_schedule_writes_a_missing_policy_before_any_page(
    make_campaign, approver, audience, organization
):
    # given: an organization from before policies were written with it
    OrganizationPolicy.objects.filter(organization=organization).delete()
    campaign = move(make_campaign(), "approved")
    # when
    campaign_schedule(campaign=campaign, user=approver)
    # then: the planners' pages find it instead of each inserting it
    assert OrganizationPolicy.objects.filter(organization=organization).exists()


def test_a_schedule_in_the_past_is_refused(make_campaign, approver, audience):
    # given
    campaign = move(
        make_campaign(
            schedule="at", send_at=WEEKDAY_NOON_PARIS - datetime.timedelta(minutes=5)
        ),
        "approved",
    )
    # then
    with pytest.raises(CampaignError, match="already past"):
        campaign_schedule(campaign=campaign, user=approver)
    assert not CampaignRecipient.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.APPROVED


def test_a_local_time_is_each_patients_own(make_campaign, approver, organization):
    # given: 18:00 local, in Paris (UTC+1) and New York (UTC-4 after 8 March)
    paris = patient(organization, time_zone="Europe/Paris")
    new_york = patient(organization, time_zone="America/New_York")
    campaign = move(
        make_campaign(
            schedule="local",
            local_date=datetime.date(2026, 3, 10),
            local_time=datetime.time(18, 0),
        ),
        "approved",
    )
    # when
    campaign_schedule(campaign=campaign, user=approver)
    # then
    due = dict(
        CampaignRecipient.objects.filter(campaign=campaign).values_list(
            "patient_id", "due_at"
        )
    )
    assert due[paris.pk] == datetime.datetime(2026, 3, 10, 17, 0, tzinfo=datetime.UTC)
    assert due[new_york.pk] == datetime.datetime(
        2026, 3, 10, 22, 0, tzinfo=datetime.UTC
    )


def test_a_local_time_already_past_somewhere_is_refused(
    make_campaign, approver, organization
):
    # given: 11:30 local is past in Paris (12:00) but not in New York
    patient(organization, time_zone="Europe/Paris")
    patient(organization, time_zone="America/New_York")
    campaign = move(
        make_campaign(
            schedule="local",
            local_date=datetime.date(2026, 3, 10),
            local_time=datetime.time(11, 30),
        ),
        "approved",
    )
    # then
    with pytest.raises(CampaignError, match="Europe/Paris"):
        campaign_schedule(campaign=campaign, user=approver)


def test_pause_resume_and_cancel(make_campaign, approver, audience):
    # given
    campaign = move(make_campaign(), "approved")
    campaign_schedule(campaign=campaign, user=approver)
    # when / then
    campaign_pause(campaign=campaign, user=approver)
    assert campaign.status == Campaign.Status.PAUSED
    campaign_resume(campaign=campaign, user=approver)
    assert campaign.status == Campaign.Status.SCHEDULED
    campaign_cancel(campaign=campaign, user=approver)
    assert campaign.status == Campaign.Status.CANCELLED
    assert set(
        CampaignRecipient.objects.filter(campaign=campaign).values_list(
            "status", flat=True
        )
    ) == {"cancelled"}
    with pytest.raises(CampaignError):
        campaign_resume(campaign=campaign, user=approver)


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_a_finished_campaign_can_be_neither_paused_nor_cancelled(
    make_campaign, approver, status
):
    # given
    campaign = move(make_campaign(), status)
    # when / then
    with pytest.raises(CampaignError):
        campaign_pause(campaign=campaign, user=approver)
    with pytest.raises(CampaignError):
        campaign_cancel(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    assert campaign.status == status


def test_the_database_refuses_an_author_approving_their_own(make_campaign, author):
    from django.db import IntegrityError

    campaign = make_campaign()
    with pytest.raises(IntegrityError):
        Campaign.objects.filter(pk=campaign.pk).update(approver=author)
