"""The audience filters and the live count, which agrees with the real send."""

import datetime
from collections import Counter

import pytest

from campaigns.audience import audience_count, audience_queryset
from campaigns.models import CampaignRecipient, PatientTag
from campaigns.planner import campaign_plan_due
from campaigns.services import campaign_schedule
from clinic.models import AppointmentStatus
from consent import services as consent_services
from consent.gdpr.objection import object_to_automation
from tests.campaigns.conftest import move, patient
from tests.clinic.factories import AppointmentFactory, SiteFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


def ids(queryset):
    return set(queryset.values_list("pk", flat=True))


def test_the_audience_is_always_the_campaigns_organization(
    make_campaign, organization, other_organization
):
    # given
    ours = patient(organization)
    patient(other_organization)
    # when
    audience = audience_queryset(make_campaign())
    # then
    assert ids(audience) == {ours.pk}


def test_language_and_age_filters(make_campaign, organization):
    # given: ages on 10 March 2026
    young = patient(organization, birth_date=datetime.date(2000, 3, 11))  # 25
    thirty = patient(organization, birth_date=datetime.date(1996, 3, 10))  # 30 today
    old_en = patient(
        organization, birth_date=datetime.date(1950, 1, 1), preferred_language="en"
    )
    # then
    assert ids(audience_queryset(make_campaign(age_min=30))) == {thirty.pk, old_en.pk}
    assert ids(audience_queryset(make_campaign(age_max=29))) == {young.pk}
    assert ids(audience_queryset(make_campaign(age_min=26, age_max=30))) == {thirty.pk}
    assert ids(audience_queryset(make_campaign(language="en"))) == {old_en.pk}


def test_tag_filter_takes_any_of_the_tags(make_campaign, organization):
    # given
    diabetic, asthmatic, untagged = (patient(organization) for _ in range(3))
    PatientTag.objects.create(patient=diabetic, name="diabetes")
    PatientTag.objects.create(patient=asthmatic, name="asthma")
    PatientTag.objects.create(patient=asthmatic, name="diabetes-risk")
    # then
    assert ids(audience_queryset(make_campaign(tags=["diabetes"]))) == {diabetic.pk}
    assert ids(audience_queryset(make_campaign(tags=["diabetes", "asthma"]))) == {
        diabetic.pk,
        asthmatic.pk,
    }
    assert untagged.pk not in ids(audience_queryset(make_campaign(tags=["asthma"])))


def visit(who, days_ago, status=AppointmentStatus.FULFILLED, **fields):
    starts = WEEKDAY_NOON_PARIS - datetime.timedelta(days=days_ago)
    return AppointmentFactory(
        patient=who,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        status=status,
        **fields,
    )


def test_last_visit_filters_use_fulfilled_appointments(make_campaign, organization):
    # given
    recent = patient(organization)
    visit(recent, days_ago=10)
    visit(recent, days_ago=400)
    long_ago = patient(organization)
    visit(long_ago, days_ago=400)
    visit(long_ago, days_ago=5, status=AppointmentStatus.NO_SHOW)  # not a visit
    never = patient(organization)
    cutoff = (WEEKDAY_NOON_PARIS - datetime.timedelta(days=365)).date()
    # then: "last visit before" means no visit since
    assert ids(audience_queryset(make_campaign(last_visit_before=cutoff))) == {
        long_ago.pk
    }
    assert ids(audience_queryset(make_campaign(last_visit_after=cutoff))) == {recent.pk}
    assert never.pk not in ids(
        audience_queryset(make_campaign(last_visit_after=cutoff))
    )


def test_site_and_upcoming_appointment_kind(make_campaign, organization):
    # given
    site = SiteFactory(organization=organization)
    at_site = patient(organization)
    visit(at_site, days_ago=30, site=site)
    booked = patient(organization)
    visit(booked, days_ago=-3, status=AppointmentStatus.BOOKED, kind="vaccination")
    cancelled = patient(organization)
    visit(
        cancelled, days_ago=-3, status=AppointmentStatus.CANCELLED, kind="vaccination"
    )
    # then
    assert ids(audience_queryset(make_campaign(site=site))) == {at_site.pk}
    assert ids(
        audience_queryset(make_campaign(upcoming_appointment_kind="vaccination"))
    ) == {booked.pk}


def population(organization):
    """Patients for every reason a campaign can skip someone."""
    patient(organization, email="", phone="+33612345678")  # SMS
    patient(organization, phone="")  # email
    patient(organization, opted_in=False)  # no_opt_in
    withdrawn = patient(organization)
    consent_services.consent_withdraw(
        patient=withdrawn, purpose="marketing", source="portal"
    )
    objecting = patient(organization)
    object_to_automation(patient=objecting)
    sms_stopped = patient(organization, email="")
    consent_services.consent_withdraw(
        patient=sms_stopped, purpose="marketing", channel="sms", source="sms-keyword"
    )
    return patient(organization, preferred_language="en")  # falls back to fr


def test_the_live_count_says_who_receives_and_why_not(make_campaign, organization):
    # given
    population(organization)
    # when
    count = audience_count(make_campaign())
    # then
    assert count.total == 7
    assert count.receiving == 4  # sms, email, english; sms-stopped gets the inbox
    assert dict(count.excluded) == {
        "no_opt_in": 1,
        "opted_out": 1,
        "objects_to_automation": 1,
    }
    assert count.language_fallback == 1
    assert count.problems == []


def test_the_live_count_agrees_with_the_real_send(
    make_campaign, organization, author, django_capture_on_commit_callbacks
):
    # given
    population(organization)
    for n in range(12):
        patient(
            organization,
            opted_in=n % 3 != 0,
            phone="" if n % 4 == 0 else "+33612345678",
            preferred_language="en" if n % 5 == 0 else "fr",
        )
    campaign = make_campaign()
    preview = audience_count(campaign, at=WEEKDAY_NOON_PARIS)
    # when
    move(campaign, "approved")
    campaign_schedule(campaign=campaign, user=author)
    campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS, page_size=5)
    # then
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    excluded = Counter(
        recipients.filter(status="suppressed").values_list("reason", flat=True)
    )
    assert excluded == preview.excluded
    planned = recipients.filter(status="planned")
    assert planned.count() == preview.receiving
    assert planned.filter(message__isnull=True).count() == 0
    # each receiving patient has a delivery that is not suppressed, on the
    # channel the preview named
    channels = Counter()
    for recipient in planned.select_related("message"):
        going = recipient.message.deliveries.exclude(status="suppressed")
        external = [d.channel for d in going if d.channel != "inapp"]
        channels[external[0] if external else "inapp"] += 1
    assert channels == preview.by_channel


def test_an_audience_matching_nobody_says_so(make_campaign, organization):
    # given
    patient(organization, preferred_language="fr")
    # when
    count = audience_count(make_campaign(language="en"))
    # then
    assert count.total == 0
    assert "No patient matches these filters" in count.problems[0]


def test_require_opt_in_keeps_only_explicit_consent(organization, author):
    # given: a care topic, allowed by default
    from campaigns.models import Campaign
    from tests.consent.factories import TopicFactory

    topic = TopicFactory(organization=organization, slug="recall", purpose="care")
    TemplateFactory(topic=topic, channel="sms", body="Rappel")
    granted = patient(organization, opted_in=False)
    consent_services.consent_grant(
        patient=granted, purpose="care", channel="sms", source="portal"
    )
    patient(organization, opted_in=False)
    campaign = Campaign.objects.create(
        organization=organization, topic=topic, name="Recall", author=author
    )
    # when
    loose = audience_count(campaign)
    campaign.require_opt_in = True
    strict = audience_count(campaign)
    # then
    assert (loose.receiving, strict.receiving) == (2, 1)
    assert dict(strict.excluded) == {"no_opt_in": 1}


def test_the_count_reads_a_page_in_a_few_queries(
    make_campaign, organization, django_assert_max_num_queries
):
    # given
    for _ in range(30):
        patient(organization)
    campaign = make_campaign()
    # then: a constant number of queries, not one per patient
    with django_assert_max_num_queries(20):
        count = audience_count(campaign)
    assert count.receiving == 30
