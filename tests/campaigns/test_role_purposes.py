"""Which roles may send which topic purposes in campaigns and bulk sends
(clinic.roles.ROLE_PURPOSES): every role × every purpose, the author and the
approver, the admin form, and the planner when a rule changes after approval."""

import pytest

from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.models import Campaign, CampaignRecipient
from campaigns.planner import campaigns_plan_due
from campaigns.services import (
    CampaignError,
    campaign_approve,
    campaign_resume,
    campaign_save,
    campaign_schedule,
    campaign_submit,
)
from clinic.models import StaffMember
from clinic.roles import PurposeNotAllowed
from consent.vocabulary import Purpose
from messaging.models import Message
from messaging.services import message_send_many
from tests.campaigns.conftest import ALL_PERMS, grant, patient
from tests.clinic.factories import PatientFactory, StaffMemberFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS
from tests.support.role_matrix import ALLOWED, MATRIX, PURPOSES

pytestmark = pytest.mark.django_db


def test_the_roles_purposes_are_consents_words():
    from clinic.roles import PURPOSES as ROLE_WORDS
    from clinic.roles import ROLE_PURPOSES

    assert set(ROLE_WORDS) == set(Purpose.values)
    assert set(ROLE_PURPOSES) == set(StaffMember.Role.values)


def staff(organization, role, name):
    user = StaffMemberFactory(
        organization=organization, role=role, user__username=name
    ).user
    # Every campaign permission, so that only the purpose rule can refuse.
    return grant(user, *ALL_PERMS)


def topic_of(organization, purpose):
    topic = TopicFactory(
        organization=organization, slug=f"t-{purpose}", purpose=purpose
    )
    TemplateFactory(
        topic=topic, channel="inapp", body="Bonjour {{ patient_first_name }}"
    )
    return topic


@pytest.mark.parametrize(("role", "purpose"), MATRIX)
def test_campaign_writing_and_submitting_follow_the_role(organization, role, purpose):
    # given
    patient(organization)
    user = staff(organization, role, "writer")
    campaign = Campaign(
        organization=organization,
        name="Campaign",
        topic=topic_of(organization, purpose),
        author=user,
    )
    # when / then
    if (role, purpose) in ALLOWED:
        campaign_save(campaign=campaign, user=user)
        campaign_submit(campaign=campaign, user=user)
        assert campaign.status == Campaign.Status.AWAITING_APPROVAL
    else:
        with pytest.raises(ValidationError) as refused:
            campaign_save(campaign=campaign, user=user)
        assert "may not send topics of the purpose" in str(refused.value)
        assert not Campaign.objects.exists()


@pytest.mark.parametrize(("role", "purpose"), MATRIX)
def test_approval_follows_the_approvers_role(organization, superuser, role, purpose):
    # given: a campaign a superuser wrote (every purpose) awaiting approval
    patient(organization, opted_in=True)
    campaign = Campaign.objects.create(
        organization=organization,
        name="Campaign",
        topic=topic_of(organization, purpose),
        author=superuser,
        status=Campaign.Status.AWAITING_APPROVAL,
    )
    approver = staff(organization, role, "approver")
    # when / then
    if (role, purpose) in ALLOWED:
        campaign_approve(campaign=campaign, user=approver)
        assert campaign.status == Campaign.Status.APPROVED
    else:
        with pytest.raises(CampaignError, match="Your role"):
            campaign_approve(campaign=campaign, user=approver)
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.AWAITING_APPROVAL


@pytest.mark.parametrize(("role", "purpose"), MATRIX)
def test_bulk_sends_follow_the_senders_role(organization, role, purpose):
    # given
    patients = [PatientFactory(organization=organization) for _ in range(2)]
    user = staff(organization, role, "sender")
    topic = topic_of(organization, purpose)
    everyone = type(patients[0]).objects.filter(pk__in=[p.pk for p in patients])
    # when / then
    if (role, purpose) in ALLOWED:
        sent = message_send_many(
            patients=everyone, topic=topic, origin="staff", on_behalf_of=user
        )
        assert sent == 2
    else:
        with pytest.raises(PurposeNotAllowed, match="may not send"):
            message_send_many(
                patients=everyone, topic=topic, origin="staff", on_behalf_of=user
            )
        assert not Message.objects.exists()


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_superuser_may_use_every_purpose(organization, superuser, purpose):
    patient(organization)
    campaign = Campaign(
        organization=organization,
        name="Campaign",
        topic=topic_of(organization, purpose),
        author=superuser,
    )
    campaign_save(campaign=campaign, user=superuser)
    campaign_submit(campaign=campaign, user=superuser)
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL


def test_an_approver_cannot_let_through_what_the_authors_role_may_not_send(
    organization,
):
    # given: marketing's campaign on a care topic, written before the rule
    patient(organization)
    author = staff(organization, "marketing", "lilas.marketing")
    campaign = Campaign.objects.create(
        organization=organization,
        name="Results",
        topic=topic_of(organization, "care"),
        author=author,
        status=Campaign.Status.AWAITING_APPROVAL,
    )
    admin = staff(organization, "admin", "lilas.admin")
    # when / then
    with pytest.raises(CampaignError, match="The author"):
        campaign_approve(campaign=campaign, user=admin)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.APPROVED, approver=admin
    )
    campaign.refresh_from_db()
    with pytest.raises(CampaignError, match="The author"):
        campaign_schedule(campaign=campaign, user=admin)
    assert not CampaignRecipient.objects.exists()


def test_a_topic_turned_to_care_after_approval_pauses_the_campaign(organization):
    # given: marketing's approved, scheduled campaign on a marketing topic
    patient(organization)
    author = staff(organization, "marketing", "writer")
    admin = staff(organization, "admin", "boss")
    topic = topic_of(organization, "marketing")
    campaign = Campaign(organization=organization, name="News", topic=topic)
    campaign.author = author
    campaign_save(campaign=campaign, user=author)
    campaign_submit(campaign=campaign, user=author)
    campaign_approve(campaign=campaign, user=admin)
    campaign_schedule(campaign=campaign, user=admin)
    # when: its topic becomes care (no opt-in needed) before it is planned
    topic.purpose = "care"
    topic.save()
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
    # then: nobody is reached, and staff cannot resume it
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert not Message.objects.exists()
    with pytest.raises(CampaignError, match="may not send"):
        campaign_resume(campaign=campaign, user=admin)


# --- Admin -------------------------------------------------------------------


@pytest.fixture
def lilas_marketing(organization):
    return StaffMemberFactory(
        organization=organization, role="marketing", user__username="lilas.marketing"
    ).user


def test_the_campaign_form_offers_only_the_roles_topics(
    client, organization, lilas_marketing
):
    # given
    care = topic_of(organization, "care")
    news = topic_of(organization, "marketing")
    client.force_login(lilas_marketing)
    # when
    page = client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    # then
    assert f'<option value="{news.pk}"' in page
    assert f'<option value="{care.pk}"' not in page
    assert "Your role may send topics of these purposes: Health campaigns" in page


def test_a_forced_care_topic_is_refused_in_words(client, organization, lilas_marketing):
    # given: the case, "Results available" by marketing staff
    results = topic_of(organization, "care")
    patient(organization)
    client.force_login(lilas_marketing)
    # when
    response = client.post(
        reverse("admin:campaigns_campaign_add"),
        {"name": "Results", "topic": results.pk, "tags": "[]", "schedule": "now"},
    )
    # then
    assert response.status_code == 200
    assert "Your role may not send this topic" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_staff_page_shows_what_the_role_may_send(client, organization, superuser):
    member = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(superuser)
    page = client.get(
        reverse("admin:clinic_staffmember_change", args=[member.pk])
    ).content.decode()
    assert "May send to many patients" in page
    assert "Care, Feedback and surveys" in page


def test_marketing_staff_cannot_turn_a_topic_into_care(
    client, organization, lilas_marketing
):
    # given
    news = topic_of(organization, "marketing")
    results = topic_of(organization, "care")
    client.force_login(lilas_marketing)
    url = reverse("admin:consent_topic_change", args=[news.pk])
    form = {
        "slug": news.slug,
        "name_en": "News",
        "name_fr": "Nouvelles",
        "purpose": "care",
        "channels": '["inapp"]',
        "escalation_ladder": "[]",
    }
    # when
    response = client.post(url, form)
    page = client.get(
        reverse("admin:consent_topic_change", args=[results.pk])
    ).content.decode()
    # then
    news.refresh_from_db()
    assert response.status_code == 200
    assert news.purpose == "marketing"
    assert 'name="purpose"' not in page  # read-only on a care topic


def test_a_user_without_a_role_may_send_nothing(organization):
    from clinic.roles import purposes_allowed

    assert purposes_allowed(UserFactory()) == frozenset()


def test_marketing_staff_read_care_templates_but_cannot_reword_them(
    client, organization, lilas_marketing
):
    # given: the care topic's template, "Results available"
    results = topic_of(organization, "care")
    news = topic_of(organization, "marketing")
    care_template = TemplateFactory(
        topic=results, channel="sms", language="fr", body="Vos résultats sont prêts."
    )
    client.force_login(lilas_marketing)
    url = reverse("admin:messaging_template_change", args=[care_template.pk])
    # when: they open it, then post a new wording
    page = client.get(url)
    posted = client.post(url, {"topic": results.pk, "body": "Promo !"})
    new_template = client.get(reverse("admin:messaging_template_add")).content.decode()
    # then: they read it, may not change it, and may only write marketing ones
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert posted.status_code == 403
    care_template.refresh_from_db()
    assert care_template.body == "Vos résultats sont prêts."
    assert f'<option value="{news.pk}"' in new_template
    assert f'<option value="{results.pk}"' not in new_template


def test_a_clinic_administrator_words_the_security_templates(organization):
    from clinic.roles import template_purposes

    admin = StaffMemberFactory(organization=organization, role="admin").user
    marketing = StaffMemberFactory(organization=organization, role="marketing").user
    assert "security" in template_purposes(admin)
    assert template_purposes(marketing) == {"marketing"}
