import pytest
import time_machine

from django.contrib.auth.models import Permission

from campaigns.models import Campaign
from clinic.services import patient_save
from consent import services as consent_services
from messaging.backends import locmem
from tests.clinic.factories import PatientFactory, StaffMemberFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

# A Tuesday, 12:00 in Paris: inside every sending window.


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture(autouse=True)
def sms_outbox():
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="campaigns", codename__in=codenames
        )
    )
    for cache in ("_perm_cache", "_user_perm_cache", "_liaison_role_perms"):
        user.__dict__.pop(cache, None)
    return user


ALL_PERMS = (
    "view_campaign",
    "add_campaign",
    "change_campaign",
    "approve_campaign",
    "send_campaign",
    "view_campaignrecipient",
    "view_patienttag",
    "add_patienttag",
)


@pytest.fixture
def author(organization):
    user = StaffMemberFactory(
        organization=organization, user__username="author", user__first_name="Ana"
    ).user
    return grant(user, *ALL_PERMS)


@pytest.fixture
def approver(organization):
    user = StaffMemberFactory(organization=organization, user__username="approver").user
    return grant(user, *ALL_PERMS)


@pytest.fixture
def topic(organization):
    topic = TopicFactory(
        organization=organization,
        slug="flu",
        purpose="marketing",
        channels=["inapp", "sms", "email"],
    )
    TemplateFactory(
        topic=topic, channel="inapp", body="Vaccin, {{ patient_first_name }} ?"
    )
    TemplateFactory(
        topic=topic, channel="sms", body="Vaccin grippe, {{ patient_first_name }}"
    )
    TemplateFactory(
        topic=topic,
        channel="email",
        subject="Grippe",
        body="Le vaccin contre la grippe, {{ patient_first_name }}",
    )
    return topic


@pytest.fixture
def make_campaign(organization, topic, author):
    def make(**fields):
        fields = {
            "organization": organization,
            "topic": topic,
            "name": "Flu 2026",
            "author": author,
        } | fields
        return Campaign.objects.create(**fields)

    return make


def patient(organization, *, opted_in=True, **fields):
    made = patient_save(
        patient=PatientFactory.build(organization=organization, **fields)
    )
    if opted_in:
        consent_services.consent_grant(
            patient=made, purpose="marketing", source="portal"
        )
    return made


def move(campaign, *statuses):
    Campaign.objects.filter(pk=campaign.pk).update(status=statuses[-1])
    campaign.refresh_from_db()
    return campaign
