"""Preferences and policies refuse impossible settings and feed the channel order."""

import datetime

import pytest

from django.core.exceptions import ValidationError
from django.core.management import call_command

from consent import services
from consent.errors import ConsentError
from consent.models import ConsentEvent, OrganizationPolicy, PatientPreferences, Topic
from consent.selectors import channel_order_get
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization)


@pytest.mark.parametrize(
    ("start", "end"),
    [(datetime.time(9), datetime.time(9)), (datetime.time(21), datetime.time(8))],
    ids=["empty", "inverted"],
)
def test_patient_window_empty_or_inverted_is_refused(patient, start, end):
    with pytest.raises(ValidationError, match="must start before it ends"):
        services.preferences_update(patient=patient, send_from=start, send_until=end)
    assert not PatientPreferences.objects.filter(
        patient=patient, send_from__isnull=False
    ).exists()


def test_half_a_window_is_refused(patient):
    with pytest.raises(ValidationError, match="both ends"):
        services.preferences_update(patient=patient, send_from=datetime.time(9))


def test_negative_campaign_frequency_is_refused(patient):
    with pytest.raises(ConsentError, match="cannot be negative"):
        services.preferences_update(patient=patient, marketing_per_week=-1)


def test_organization_window_inverted_is_refused(organization):
    policy = services.policy_get(organization=organization)
    policy.send_from, policy.send_until = datetime.time(22), datetime.time(7)
    with pytest.raises(ValidationError, match="must start before it ends"):
        policy.full_clean()


def test_voice_windows_are_validated(organization):
    policy = services.policy_get(organization=organization)
    policy.voice_marketing_windows = [{"days": [0], "start": "14:00", "end": "10:00"}]
    with pytest.raises(ValidationError, match="voice window must start before"):
        policy.full_clean()
    policy.voice_marketing_windows = [{"days": [9], "start": "10:00", "end": "12:00"}]
    with pytest.raises(ValidationError, match="from 0"):
        policy.full_clean()


def test_policy_defaults_follow_the_country():
    american = OrganizationFactory(
        slug="us", country="US", time_zone="America/New_York"
    )
    policy = services.policy_get(organization=american)
    assert policy.voice_marketing_windows[0]["days"] == [0, 1, 2, 3, 4, 5, 6]
    assert OrganizationPolicy.objects.count() == 1


def test_a_new_organization_has_its_policy_from_the_start():
    # when
    american = OrganizationFactory(
        slug="us", country="US", time_zone="America/New_York"
    )
    # then: written with the organization, not by the first send that needs
    # it (where concurrent sends would wait on one another's insert)
    policy = OrganizationPolicy.objects.get(organization=american)
    assert policy.voice_marketing_windows[0]["days"] == [0, 1, 2, 3, 4, 5, 6]
    assert services.policy_get(organization=american) == policy


def test_channel_order_is_the_patients_then_the_topics(patient, organization):
    reminders = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "email", "sms"]
    )
    assert channel_order_get(patient=patient, topic=reminders) == [
        "inapp",
        "email",
        "sms",
    ]
    services.preferences_update(
        patient=patient, channel_order={"reminders": ["sms", "inapp"]}
    )
    patient.refresh_from_db()
    assert channel_order_get(patient=patient, topic=reminders) == ["sms", "inapp"]


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({"reminders": ["sms"]}, "secure inbox"),
        ({"reminders": ["voice", "inapp"]}, "only uses"),
        ({"unknown": ["inapp"]}, "Unknown topic"),
        (["sms"], "maps topic slugs"),
    ],
)
def test_impossible_channel_orders_are_refused(patient, organization, order, message):
    TopicFactory(organization=organization, slug="reminders", channels=["inapp", "sms"])
    with pytest.raises(ConsentError, match=message):
        services.preferences_update(patient=patient, channel_order=order)


def test_care_topic_without_inbox_is_refused(organization):
    topic = Topic(
        organization=organization,
        slug="x",
        name_en="X",
        name_fr="X",
        purpose="care",
        channels=["sms"],
    )
    with pytest.raises(ValidationError, match="secure inbox"):
        topic.full_clean()
    topic.channels = ["inapp", "fax"]
    with pytest.raises(ValidationError, match="Unknown channel"):
        topic.full_clean()


def test_consent_record_refuses_bad_input_and_writes_nothing(patient, organization):
    other_topic = TopicFactory(
        organization=OrganizationFactory(slug="far"), slug="news", purpose="marketing"
    )
    bad_calls = [
        ({"purpose": "marketing", "channel": "fax"}, "Unknown channel"),
        ({"purpose": "gossip"}, "Unknown purpose"),
        ({"topic": other_topic}, "another organization"),
        ({}, "one purpose or one topic"),
        ({"purpose": "marketing", "source": "rumour"}, "Unknown consent source"),
    ]
    for kwargs, message in bad_calls:
        with pytest.raises(ConsentError, match=message):
            services.consent_record(
                patient=patient, granted=True, **({"source": "portal"} | kwargs)
            )
    assert not ConsentEvent.objects.exists()


def test_rebuild_command_reports_and_fixes(patient, capsys):
    from consent.models import ConsentState

    services.consent_grant(patient=patient, purpose="marketing", source="staff")
    ConsentState.objects.update(granted=False)
    call_command("rebuild_consent_state", "--dry-run")
    assert "1 differences found; nothing changed." in capsys.readouterr().out
    assert ConsentState.objects.get().granted is False
    call_command("rebuild_consent_state")
    assert "1 differences found and fixed." in capsys.readouterr().out
    assert ConsentState.objects.get().granted is True
    call_command("rebuild_consent_state", "--organization", patient.organization.slug)
    assert "matches the ledger" in capsys.readouterr().out
