"""A survey sent after a campaign: the recipients its message reached are
invited once, after the delay, a batch per run."""

import datetime

import pytest

from django.core.exceptions import ValidationError

from campaigns.models import Campaign, CampaignRecipient
from consent import services as consent_services
from conversations.models import Conversation
from feedback import triggers
from feedback.models import Survey, SurveyInvitation
from feedback.triggers import surveys_invite_due
from messaging.models import Delivery, Message
from tests.clinic.factories import (
    OrganizationFactory,
    PatientFactory,
    SiteFactory,
    StaffMemberFactory,
)
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=datetime.UTC)


def hours_ago(n: float) -> datetime.datetime:
    return NOW - datetime.timedelta(hours=n)


def make_campaign(organization, **fields) -> Campaign:
    return Campaign.objects.create(
        **{
            "organization": organization,
            "topic": TopicFactory(organization=organization, purpose="marketing"),
            "name": "Flu 2026",
            "author": StaffMemberFactory(organization=organization).user,
        }
        | fields
    )


@pytest.fixture
def campaign(organization):
    return make_campaign(organization, site=SiteFactory(organization=organization))


@pytest.fixture
def after_campaign(survey, campaign):
    survey.trigger = Survey.Trigger.CAMPAIGN
    survey.campaign = campaign
    survey.trigger_delay_hours = 2
    survey.full_clean()
    survey.save()
    return survey


def recipient(campaign, *, statuses=("delivered",), sent=None, **fields):
    """A recipient whose campaign message has one delivery per status;
    ``statuses=None``: not planned (no message). Sent 3 hours ago by default."""
    sent = sent or hours_ago(3)
    patient = PatientFactory(
        organization=campaign.organization, preferred_language="fr", **fields
    )
    row = CampaignRecipient(campaign=campaign, patient=patient, due_at=sent)
    if statuses is not None:
        message = Message.objects.create(
            organization=campaign.organization,
            patient=patient,
            topic=campaign.topic,
            origin="campaign",
            origin_ref=campaign.origin_ref,
            sensitivity="public",
            language="fr",
            body="Vaccin ?",
            created_at=sent,
        )
        for channel, status in zip(("sms", "inapp", "email"), statuses, strict=False):
            reached = status in ("sent", "delivered", "read")
            Delivery.objects.create(
                message=message,
                channel=channel,
                status=status,
                sent_at=sent if reached else None,
            )
        row.status, row.message, row.planned_at = "planned", message, sent
    else:
        row.status, row.reason = "suppressed", "opted_out"
    row.save()
    return patient


def invited(survey) -> set:
    return set(
        SurveyInvitation.objects.filter(survey=survey).values_list(
            "patient_id", flat=True
        )
    )


def test_the_recipients_it_reached_are_invited_once(after_campaign, campaign):
    # given
    reached = recipient(campaign, statuses=("sent",))
    read = recipient(campaign, statuses=("failed", "read"))
    recipient(campaign, statuses=None)  # not planned: opted out of the campaign
    recipient(campaign, statuses=("suppressed", "suppressed"))
    recipient(campaign, statuses=("failed",))
    recipient(campaign, statuses=("queued",))
    later = recipient(campaign, sent=hours_ago(1))  # the delay is 2 hours
    recipient(campaign, sent=hours_ago(24 * 30))  # a month ago: too old
    # when
    made = surveys_invite_due(NOW)
    # then
    assert made == 2
    assert invited(after_campaign) == {reached.pk, read.pk}
    invitation = SurveyInvitation.objects.get(patient=reached)
    assert invitation.trigger_ref == f"campaign:{campaign.pk}"
    assert invitation.site == campaign.site
    assert invitation.message.deliveries.filter(status="queued").exists()
    # two more runs: the one sent an hour ago becomes due, nobody twice
    assert surveys_invite_due(NOW) == 0
    assert surveys_invite_due(NOW + datetime.timedelta(hours=1)) == 1
    assert surveys_invite_due(NOW + datetime.timedelta(hours=1)) == 0
    assert invited(after_campaign) == {reached.pk, read.pk, later.pk}
    assert SurveyInvitation.objects.count() == 3


def test_same_rules_as_other_invitations(after_campaign, campaign):
    """Consent suppresses (the delivery log says why); an open complaint or an
    erased identity is not invited at all."""
    # given
    withdrawn = recipient(campaign)
    consent_services.consent_withdraw(
        patient=withdrawn, purpose="feedback", source="portal"
    )
    complaining = recipient(campaign)
    Conversation.objects.create(
        organization=campaign.organization, patient=complaining, kind="complaint"
    )
    erased = recipient(campaign)
    type(erased).objects.filter(pk=erased.pk).update(erased_at=hours_ago(1))
    # when
    made = surveys_invite_due(NOW)
    # then
    assert made == 1
    invitation = SurveyInvitation.objects.get()
    assert invitation.patient == withdrawn
    logged = set(invitation.message.deliveries.values_list("status", "reason"))
    assert ("suppressed", "opted_out") in logged
    assert {status for status, _reason in logged} == {"suppressed"}


def test_a_large_campaign_is_spread_over_runs(after_campaign, campaign, monkeypatch):
    # given
    monkeypatch.setattr(triggers, "BATCH", 2)
    patients = {recipient(campaign).pk for _ in range(5)}
    # when, then
    assert [surveys_invite_due(NOW) for _ in range(4)] == [2, 2, 1, 0]
    assert invited(after_campaign) == patients


def test_another_campaign_or_organization_is_not_invited(after_campaign, campaign):
    # given
    other = make_campaign(campaign.organization, name="Other")
    recipient(other)
    stranger = make_campaign(OrganizationFactory(slug="far"))
    recipient(stranger)
    # when, then
    assert surveys_invite_due(NOW) == 0


def test_a_deleted_campaign_leaves_the_survey_idle(after_campaign, campaign):
    # given
    recipient(campaign)
    CampaignRecipient.objects.filter(campaign=campaign).delete()
    campaign.delete()
    after_campaign.refresh_from_db()
    # when, then
    assert after_campaign.campaign is None
    assert surveys_invite_due(NOW) == 0


@pytest.mark.parametrize(
    ("trigger", "campaign_of", "error"),
    [
        ("campaign", None, "Choose the campaign after which the survey is sent."),
        ("campaign", "far", "Choose a campaign of this organization."),
        ("appointment", "own", "Only a survey sent after a campaign names a campaign."),
    ],
)
def test_bad_campaign_settings_are_refused(survey, trigger, campaign_of, error):
    # given
    survey.trigger = trigger
    if campaign_of == "own":
        survey.campaign = make_campaign(survey.organization)
    elif campaign_of == "far":
        survey.campaign = make_campaign(OrganizationFactory(slug="far"))
    # when
    with pytest.raises(ValidationError) as refused:
        survey.full_clean()
    # then
    assert refused.value.message_dict == {"campaign": [error]}


def test_admin_refuses_another_organizations_campaign(admin_client, survey):
    """A superuser sees every campaign: the form says which one is wrong."""
    # given
    far = make_campaign(OrganizationFactory(slug="far"))
    url = f"/admin/feedback/survey/{survey.pk}/change/"
    form = {
        "organization": survey.organization_id,
        "name": survey.name,
        "topic": survey.topic_id,
        "is_active": "on",
        "title_fr": survey.title_fr,
        "title_en": survey.title_en,
        "trigger": "campaign",
        "campaign": far.pk,
        "trigger_delay_hours": 2,
        "link_valid_days": 14,
        "questions-TOTAL_FORMS": 0,
        "questions-INITIAL_FORMS": 0,
    }
    # when
    response = admin_client.post(url, form)
    # then
    assert response.status_code == 200
    assert "Choose a campaign of this organization." in response.content.decode()
    survey.refresh_from_db()
    assert survey.trigger == "manual"
    # and the right campaign is accepted
    own = make_campaign(survey.organization)
    response = admin_client.post(url, form | {"campaign": own.pk})
    assert response.status_code == 302
    survey.refresh_from_db()
    assert (survey.trigger, survey.campaign) == ("campaign", own)
