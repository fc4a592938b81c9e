"""Admin: scoped to the organization, the live count, actions, progress, drill-down."""

import datetime

import pytest
import time_machine

from django.urls import reverse

from campaigns.models import Campaign
from campaigns.sending import campaigns_plan_due
from campaigns.services import campaign_schedule
from messaging.models import Delivery
from messaging.services import deliveries_process
from tests.campaigns.conftest import NOON, move, patient
from tests.clinic.factories import UserFactory

pytestmark = pytest.mark.django_db


def change_url(campaign):
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def do_url(campaign, action):
    return reverse("admin:campaigns_campaign_do", args=[campaign.pk, action])


def test_the_change_form_shows_the_live_count(
    client, make_campaign, author, organization
):
    # given
    patient(organization)
    patient(organization, opted_in=False)
    campaign = make_campaign()
    client.force_login(author)
    # when
    page = client.get(change_url(campaign)).content.decode()
    # then
    assert "1 of 2 patients will receive it; 1 will not." in page
    assert "The patient has not opted in" in page
    assert "<script" not in page.split('id="campaign-panel"')[1].split("</div>")[0]


def test_another_organizations_campaign_is_a_404(
    client, make_campaign, other_organization
):
    from tests.campaigns.conftest import ALL_PERMS, grant
    from tests.clinic.factories import StaffMemberFactory

    campaign = make_campaign()
    outsider = grant(
        StaffMemberFactory(organization=other_organization).user, *ALL_PERMS
    )
    client.force_login(outsider)
    assert client.get(change_url(campaign)).status_code == 404
    assert client.post(do_url(campaign, "cancel")).status_code == 404
    assert Campaign.objects.get().status == "draft"


def test_buttons_run_the_workflow_and_refusals_are_shown(
    client, make_campaign, author, approver, organization
):
    # given
    patient(organization)
    campaign = make_campaign()
    client.force_login(author)
    # when: the author submits, then tries to approve
    client.post(do_url(campaign, "submit"))
    response = client.post(do_url(campaign, "approve"), follow=True)
    # then
    assert "another staff member must approve" in response.content.decode()
    assert Campaign.objects.get().status == "awaiting"
    client.force_login(approver)
    client.post(do_url(campaign, "approve"))
    assert Campaign.objects.get().status == "approved"


@pytest.mark.parametrize(
    ("status", "shown"),
    [("sending", {"pause", "cancel"}), ("done", set()), ("cancelled", set())],
)
def test_pause_and_cancel_are_offered_only_while_something_is_left_to_send(
    client, make_campaign, approver, status, shown
):
    # given
    campaign = move(make_campaign(), status)
    client.force_login(approver)
    # when
    page = client.get(change_url(campaign)).content.decode()
    # then
    offered = {a for a in ("pause", "cancel") if do_url(campaign, a) in page}
    assert offered == shown
    # and a forced post is refused in words
    if not shown:
        response = client.post(do_url(campaign, "pause"), follow=True)
        assert "Not possible while the campaign is" in response.content.decode()
        assert Campaign.objects.get().status == status


def test_creating_a_campaign_sets_author_and_organization(
    client, author, organization, topic
):
    client.force_login(author)
    response = client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "name": "Spring",
            "topic": topic.pk,
            "tags": "[]",
            "schedule": "now",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert (campaign.author, campaign.organization) == (author, organization)


def test_progress_bar_and_counts_equal_the_delivery_rows(
    client,
    make_campaign,
    author,
    approver,
    organization,
    django_capture_on_commit_callbacks,
):
    # given: three receive, one has no opt-in
    for _ in range(3):
        patient(organization, email="")
    patient(organization, opted_in=False)
    campaign = move(make_campaign(), "approved")
    campaign_schedule(campaign=campaign, user=approver)
    with django_capture_on_commit_callbacks(execute=True):
        campaigns_plan_due(NOON)
    client.force_login(author)
    # when
    page = client.get(change_url(campaign)).content.decode()
    # then
    assert '<progress max="4" value="4">' in page
    assert Delivery.objects.filter(channel="sms", status="sent").count() == 3
    from campaigns.selectors import campaign_progress

    progress = campaign_progress(campaign=campaign)
    assert (progress.planned, progress.sent, progress.waiting) == (3, 3, 0)
    assert progress.excluded == {"no_opt_in": 1}
    assert sum(progress.deliveries.values()) == Delivery.objects.count()
    assert progress.deliveries[("sms", "sent")] == 3


def test_the_drill_down_lists_recipients_by_status(
    client, make_campaign, author, approver, organization
):
    # given
    # Names no page text contains (a random "Chang" is in "Change password").
    sent_to = patient(organization, family_name="Zebulonsent")
    skipped = patient(organization, opted_in=False, family_name="Zebulonskipped")
    campaign = move(make_campaign(), "approved")
    campaign_schedule(campaign=campaign, user=approver)
    campaigns_plan_due(NOON)
    client.force_login(author)
    url = reverse("admin:campaigns_campaignrecipient_changelist")
    # when
    page = client.get(
        url, {"campaign__id__exact": campaign.pk, "status__exact": "suppressed"}
    ).content.decode()
    # then
    assert skipped.family_name in page
    assert sent_to.family_name not in page


def test_a_superuser_sees_every_organization(client, make_campaign, db):
    make_campaign()
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:campaigns_campaign_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            "SMS: 2 deliveries waiting (Quiet hours). "
            "The next one goes at 03/11/2026 7 a.m. (UTC).",
        ),
        (
            "fr",
            "SMS : 2 envois en attente (Heures de tranquillité). "
            "Le prochain part le 11/03/2026 07:00 (UTC).",
        ),
    ],
)
def test_deferred_deliveries_are_counted_and_explained_in_words(
    client, make_campaign, author, approver, organization, language, expected
):
    # given: planned at 22:30 in Paris, the SMS held for the quiet hours
    for _ in range(2):
        patient(organization, email="")
    campaign = move(make_campaign(), "approved")
    campaign_schedule(campaign=campaign, user=approver)
    night = datetime.datetime(2026, 3, 10, 21, 30, tzinfo=datetime.UTC)
    with time_machine.travel(night, tick=False):
        campaigns_plan_due(night)
        deliveries_process(list(Delivery.objects.values_list("pk", flat=True)))
    assert Delivery.objects.filter(channel="sms", status="deferred").count() == 2
    client.force_login(author)
    # when
    page = client.get(
        change_url(campaign), headers={"accept-language": language}
    ).content.decode()
    # then
    assert expected in page
    assert "<td>sms</td><td>deferred</td>" not in page
