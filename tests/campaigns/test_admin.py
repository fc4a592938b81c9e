"""Admin: scoped to the organization, the live count, actions, progress, drill-down."""

import datetime
import re

import pytest
import time_machine

from django.urls import reverse

from campaigns.models import Campaign
from campaigns.planner import campaigns_plan_due
from campaigns.services import campaign_schedule
from consent.gdpr.objection import object_to_automation
from messaging.models import Delivery
from messaging.services import deliveries_process
from tests.campaigns.conftest import move, patient
from tests.clinic.factories import UserFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

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
        campaigns_plan_due(WEEKDAY_NOON_PARIS)
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
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
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
            "The next one goes at 03/11/2026 8 a.m. (Europe/Paris).",
        ),
        (
            "fr",
            "SMS : 2 envois en attente (Heures de tranquillité). "
            "Le prochain part le 11/03/2026 08:00 (Europe/Paris).",
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


def listed_rows(page: str) -> int:
    """How many rows a result list shows."""
    body = page.split('id="result_list"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return body.count("<tr")


def excluded_links(page: str) -> list[tuple[str, int]]:
    """(href, the count it says) of each "Not sent, and why" link."""
    section = page.split("Not sent, and why")[1].split("</ul>")[0]
    return [
        (href.replace("&amp;", "&"), int(n))
        for href, n in re.findall(r'<a href="([^"]+)">[^<]+</a>: (\d+)', section)
    ]


@pytest.mark.parametrize("scheduled", [False, True])
def test_each_excluded_link_opens_the_rows_it_counts(
    client, make_campaign, author, approver, organization, scheduled
):
    # given: two without opt-in, one objecting to automation, one receiving
    receiving = patient(organization, family_name="Zebulonsent")
    for name in ("Zebulonone", "Zebulontwo"):
        patient(organization, opted_in=False, family_name=name)
    objecting = patient(organization, family_name="Zebulonobjects")
    object_to_automation(patient=objecting)
    campaign = make_campaign()
    if scheduled:
        campaign = move(campaign, "approved")
        campaign_schedule(campaign=campaign, user=approver)
        campaigns_plan_due(WEEKDAY_NOON_PARIS)
    client.force_login(author)
    # when
    links = excluded_links(client.get(change_url(campaign)).content.decode())
    # then: each link lists exactly as many rows as it says
    assert sorted(n for _, n in links) == [1, 2]
    for href, n in links:
        response = client.get(href)
        assert response.status_code == 200
        page = response.content.decode()
        assert listed_rows(page) == n, href
        assert receiving.family_name not in page
        if n == 2:
            assert "Zebulonone" in page
            assert "Zebulontwo" in page
        else:
            assert objecting.family_name in page


AUDIENCE_URL = "admin:campaigns_campaign_audience_count"


def count_posted(client, **fields):
    return client.post(reverse(AUDIENCE_URL), {"tags": "[]", **fields})


def test_the_audience_count_follows_the_fields_being_edited(
    client, make_campaign, author, organization, topic
):
    # given: a saved draft for everyone, two patients, one English
    patient(organization, preferred_language="fr")
    patient(organization, preferred_language="en")
    patient(organization, preferred_language="en", opted_in=False)
    campaign = make_campaign()
    client.force_login(author)
    # when: the language field is changed, not saved
    response = count_posted(client, topic=topic.pk, language="en")
    # then: the count is of the fields as edited
    assert response.status_code == 200
    data = response.json()
    assert (data["total"], data["receiving"], data["excluded_total"]) == (2, 1, 1)
    assert data["summary"] == "1 of 2 patients will receive it; 1 will not."
    assert data["excluded"] == [
        {"reason": "no_opt_in", "label": "The patient has not opted in", "count": 1}
    ]
    campaign.refresh_from_db()
    assert campaign.language == ""


def test_the_change_form_loads_the_live_count_script_not_inline(
    client, make_campaign, author
):
    # given
    campaign = make_campaign()
    client.force_login(author)
    # when
    page = client.get(change_url(campaign)).content.decode()
    add_page = client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    # then
    for shown in (page, add_page):
        assert "campaigns/audience_count.js" in shown
        assert f'data-url="{reverse(AUDIENCE_URL)}"' in shown
    panel = page.split('id="campaign-panel"')[1].split('id="campaign_form"')[0]
    assert "<script" not in panel


def test_the_audience_count_is_checked_like_the_form(
    client, author, organization, other_organization, topic
):
    from tests.consent.factories import TopicFactory

    client.force_login(author)
    # another organization's topic is not a choice
    foreign = TopicFactory(organization=other_organization, slug="x")
    response = count_posted(client, topic=foreign.pk)
    assert response.status_code == 400
    assert "topic" in response.json()["errors"]
    # a bad age range is refused in words
    response = count_posted(client, topic=topic.pk, age_min=80, age_max=20)
    assert response.status_code == 400
    assert "The minimum age must not exceed the maximum age." in str(
        response.json()["errors"]
    )
    # a GET is refused
    assert client.get(reverse(AUDIENCE_URL)).status_code == 405


def test_the_audience_count_refuses_a_topic_the_role_may_not_send(
    client, organization, topic
):
    from tests.campaigns.conftest import ALL_PERMS, grant
    from tests.clinic.factories import StaffMemberFactory

    # given: a clinician, whose role sends care topics only; topic is marketing
    clinician = grant(
        StaffMemberFactory(organization=organization, role="clinician").user,
        *ALL_PERMS,
    )
    client.force_login(clinician)
    # when
    response = count_posted(client, topic=topic.pk)
    # then
    assert response.status_code == 400
    assert "topic" in response.json()["errors"]


def test_the_audience_count_is_for_staff_with_campaign_permissions(
    client, organization, topic
):
    from tests.clinic.factories import StaffMemberFactory

    # anonymous: to the login page
    assert count_posted(client, topic=topic.pk).status_code == 302
    # staff who may only read campaigns (a coordinator): refused
    client.force_login(
        StaffMemberFactory(organization=organization, role="coordinator").user
    )
    assert count_posted(client, topic=topic.pk).status_code == 403


def test_each_box_of_the_send_moment_has_a_name(client, author):
    # given
    client.force_login(author)
    # when
    page = client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    # then: screen readers name the date and the time boxes (axe label)
    assert re.search(
        r'<input[^>]*aria-label="Send at: date"[^>]*id="id_send_at_0"', page
    )
    assert re.search(
        r'<input[^>]*aria-label="Send at: time"[^>]*id="id_send_at_1"', page
    )
