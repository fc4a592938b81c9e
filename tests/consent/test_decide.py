"""consent.decide applies the purpose rules, contact points, time rules and limits."""

import datetime
import zoneinfo

import pytest

from consent import limits, services
from consent.errors import ConsentError
from consent.selectors import decide
from consent.vocabulary import Outcome, Reason
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A Tuesday at 10:00 in Paris, in the allowed window and no holiday.
TUESDAY_10H = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)


@pytest.fixture
def patient(organization):
    from clinic.services import patient_save

    p = PatientFactory.build(organization=organization, phone="+33612345678")
    return patient_save(patient=p)


def topic(organization, purpose, **kwargs):
    return TopicFactory(
        organization=organization, slug=f"{purpose}-topic", purpose=purpose, **kwargs
    )


def send(patient, topic_, at, key, channel="inapp", content_hash=""):
    limits.send_record(
        patient=patient,
        topic=topic_,
        channel=channel,
        message_key=key,
        content_hash=content_hash,
        sent_at=at,
    )


def test_care_is_allowed_by_default_and_says_why(patient, organization):
    decision = decide(patient, topic(organization, "care"), "sms", TUESDAY_10H)
    assert decision.outcome == Outcome.ALLOW
    assert decision.why.purpose == "care"
    assert decision.why.lawful_basis == "care"


def test_marketing_needs_an_explicit_opt_in(patient, organization):
    newsletter = topic(organization, "marketing")
    assert decide(patient, newsletter, "email", TUESDAY_10H).reason == Reason.NO_OPT_IN
    event = services.consent_grant(
        patient=patient,
        topic=newsletter,
        channel="email",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=1),
    )
    decision = decide(patient, newsletter, "email", TUESDAY_10H)
    assert decision.allowed
    assert decision.why.consent_event_id == event.pk
    assert decide(patient, newsletter, "sms", TUESDAY_10H).reason == Reason.NO_OPT_IN


def test_latest_event_wins_across_purpose_and_topic(patient, organization):
    newsletter = topic(organization, "marketing")
    day = datetime.timedelta(days=1)
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - 3 * day,
    )
    services.consent_withdraw(
        patient=patient,
        topic=newsletter,
        channel="email",
        source="email-unsubscribe",
        occurred_at=TUESDAY_10H - 2 * day,
    )
    assert decide(patient, newsletter, "email", TUESDAY_10H).reason == Reason.OPTED_OUT
    assert decide(patient, newsletter, "sms", TUESDAY_10H).allowed
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - day,
    )
    assert decide(patient, newsletter, "email", TUESDAY_10H).allowed


def test_care_withdrawal_never_touches_the_secure_inbox(patient, organization):
    care = topic(organization, "care")
    services.consent_withdraw(
        patient=patient,
        purpose="care",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(hours=1),
    )
    assert decide(patient, care, "sms", TUESDAY_10H).reason == Reason.OPTED_OUT
    assert decide(patient, care, "inapp", TUESDAY_10H).allowed
    with pytest.raises(ConsentError, match="secure inbox"):
        services.consent_withdraw(
            patient=patient, purpose="care", channel="inapp", source="portal"
        )


def test_security_needs_a_verified_contact_point_and_ignores_quiet_hours(
    patient, organization
):
    codes = topic(organization, "security")
    night = datetime.datetime(2026, 3, 10, 3, 0, tzinfo=PARIS)
    assert decide(patient, codes, "sms", night).reason == Reason.UNVERIFIED_CONTACT
    preferences = services.preferences_get(patient=patient)
    preferences.phone_verified_at = night
    preferences.save()
    assert decide(patient, codes, "sms", night).outcome == Outcome.ALLOW
    with pytest.raises(ConsentError, match="cannot be switched off"):
        services.consent_withdraw(patient=patient, topic=codes, source="portal")


def test_feedback_is_opt_out_and_one_survey_per_period(patient, organization):
    surveys = topic(organization, "feedback")
    assert decide(patient, surveys, "email", TUESDAY_10H).allowed
    send(
        patient, surveys, TUESDAY_10H - datetime.timedelta(days=80), "survey-1", "email"
    )
    assert (
        decide(patient, surveys, "email", TUESDAY_10H).reason == Reason.SURVEY_RECENTLY
    )
    later = TUESDAY_10H + datetime.timedelta(days=11)
    assert decide(patient, surveys, "email", later).allowed


@pytest.mark.parametrize(
    ("change", "channel", "reason"),
    [
        ({"email": ""}, "email", Reason.NO_CONTACT_POINT),
        ({"phone": ""}, "sms", Reason.NO_CONTACT_POINT),
        ({"phone": "+33142000000"}, "sms", Reason.INVALID_ADDRESS),  # a landline
    ],
)
def test_missing_or_unusable_contact_points(organization, change, channel, reason):
    from clinic.services import patient_save

    patient = patient_save(
        patient=PatientFactory.build(organization=organization, **change)
    )
    assert (
        decide(patient, topic(organization, "care"), channel, TUESDAY_10H).reason
        == reason
    )


def test_landline_still_takes_voice_calls(organization):
    from clinic.services import patient_save

    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33142000000")
    )
    assert decide(patient, topic(organization, "care"), "voice", TUESDAY_10H).allowed


def test_bounced_email_is_invalid(patient, organization):
    preferences = services.preferences_get(patient=patient)
    preferences.email_invalid_at = TUESDAY_10H
    preferences.save()
    assert (
        decide(patient, topic(organization, "care"), "email", TUESDAY_10H).reason
        == Reason.INVALID_ADDRESS
    )


def test_topic_channels_limit_the_channels(patient, organization):
    inbox_only = topic(organization, "care", channels=["inapp"])
    assert (
        decide(patient, inbox_only, "sms", TUESDAY_10H).reason
        == Reason.CHANNEL_NOT_ALLOWED
    )


def test_quiet_hours_defer_to_the_next_morning_in_the_patients_zone(
    patient, organization
):
    evening = datetime.datetime(2026, 3, 10, 22, 30, tzinfo=PARIS)
    decision = decide(patient, topic(organization, "care"), "sms", evening)
    assert decision.outcome == Outcome.DEFER
    assert decision.reason == Reason.QUIET_HOURS
    assert decision.until == datetime.datetime(2026, 3, 11, 8, 0, tzinfo=PARIS)


def test_marketing_at_2230_goes_out_next_allowed_moment(patient, organization):
    newsletter = topic(organization, "marketing")
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=5),
    )
    saturday_night = datetime.datetime(2026, 3, 14, 22, 30, tzinfo=PARIS)
    decision = decide(patient, newsletter, "email", saturday_night)
    # Sunday is forbidden for campaigns: Monday 08:00.
    assert decision.outcome == Outcome.DEFER
    assert decision.until == datetime.datetime(2026, 3, 16, 8, 0, tzinfo=PARIS)


def test_marketing_skips_public_holidays(patient, organization):
    newsletter = topic(organization, "marketing")
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=datetime.datetime(2026, 1, 1, tzinfo=PARIS),
    )
    bastille_day = datetime.datetime(2026, 7, 14, 11, 0, tzinfo=PARIS)
    decision = decide(patient, newsletter, "email", bastille_day)
    assert decision.reason == Reason.MARKETING_DAY
    assert decision.until == datetime.datetime(2026, 7, 15, 8, 0, tzinfo=PARIS)


def test_voice_marketing_only_in_the_french_windows(patient, organization):
    newsletter = topic(organization, "marketing")
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=datetime.datetime(2026, 1, 1, tzinfo=PARIS),
    )
    lunch = datetime.datetime(2026, 3, 10, 13, 30, tzinfo=PARIS)
    decision = decide(patient, newsletter, "voice", lunch)
    assert decision.reason == Reason.VOICE_WINDOW
    assert decision.until == datetime.datetime(2026, 3, 10, 14, 0, tzinfo=PARIS)
    friday_evening = datetime.datetime(2026, 3, 13, 20, 30, tzinfo=PARIS)
    assert decide(
        patient, newsletter, "voice", friday_evening
    ).until == datetime.datetime(2026, 3, 16, 10, 0, tzinfo=PARIS)


def test_urgent_care_uses_the_wider_window_and_patient_window_applies_otherwise(
    patient, organization
):
    urgent = TopicFactory(
        organization=organization, slug="urgent", purpose="care", urgent=True
    )
    care = topic(organization, "care")
    early = datetime.datetime(2026, 3, 10, 7, 30, tzinfo=PARIS)
    assert decide(patient, urgent, "sms", early).allowed
    assert decide(patient, care, "sms", early).reason == Reason.QUIET_HOURS
    preferences = services.preferences_get(patient=patient)
    preferences.send_from, preferences.send_until = datetime.time(10), datetime.time(18)
    preferences.save()
    assert (
        decide(patient, care, "sms", TUESDAY_10H - datetime.timedelta(minutes=1)).until
        == TUESDAY_10H
    )


def test_marketing_frequency_cap_and_patient_override(patient, organization):
    newsletter = topic(organization, "marketing")
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=30),
    )
    send(patient, newsletter, TUESDAY_10H - datetime.timedelta(days=2), "m1", "email")
    assert decide(patient, newsletter, "email", TUESDAY_10H).allowed  # 1 < 2 per week
    preferences = services.preferences_get(patient=patient)
    preferences.marketing_per_week = 1
    preferences.save()
    assert (
        decide(patient, newsletter, "email", TUESDAY_10H).reason == Reason.FREQUENCY_CAP
    )


def test_fatigue_budget_lower_classes_yield_first(patient, organization):
    care, surveys, newsletter = (
        topic(organization, p) for p in ("care", "feedback", "marketing")
    )
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=TUESDAY_10H - datetime.timedelta(days=30),
    )
    for n in range(4):  # four care messages, on two channels each: four messages
        for channel in ("inapp", "sms"):
            send(
                patient,
                care,
                TUESDAY_10H - datetime.timedelta(days=1, minutes=n),
                f"c{n}",
                channel,
            )
    assert (
        decide(patient, newsletter, "email", TUESDAY_10H).reason
        == Reason.FATIGUE_BUDGET
    )
    assert decide(patient, surveys, "email", TUESDAY_10H).allowed
    send(patient, care, TUESDAY_10H - datetime.timedelta(hours=2), "c5")
    assert (
        decide(patient, surveys, "email", TUESDAY_10H).reason == Reason.FATIGUE_BUDGET
    )
    assert decide(patient, care, "sms", TUESDAY_10H).allowed
    send(patient, care, TUESDAY_10H - datetime.timedelta(hours=1), "c6")
    assert decide(patient, care, "sms", TUESDAY_10H).reason == Reason.FATIGUE_BUDGET
    urgent = TopicFactory(
        organization=organization, slug="urgent", purpose="care", urgent=True
    )
    assert decide(patient, urgent, "sms", TUESDAY_10H).allowed


def test_the_message_being_sent_does_not_count_against_itself(patient, organization):
    care = topic(organization, "care")
    for n in range(5):
        send(patient, care, TUESDAY_10H - datetime.timedelta(hours=n + 1), f"c{n}")
    send(
        patient, care, TUESDAY_10H - datetime.timedelta(minutes=5), "this-one", "inapp"
    )
    assert decide(patient, care, "sms", TUESDAY_10H).reason == Reason.FATIGUE_BUDGET
    assert decide(patient, care, "sms", TUESDAY_10H, message_key="this-one").allowed


def test_same_content_within_the_window_is_a_duplicate(patient, organization):
    care = topic(organization, "care")
    send(
        patient,
        care,
        TUESDAY_10H - datetime.timedelta(hours=3),
        "first",
        content_hash="abc",
    )
    assert (
        decide(patient, care, "sms", TUESDAY_10H, content_hash="abc").reason
        == Reason.DUPLICATE
    )
    assert decide(patient, care, "sms", TUESDAY_10H, content_hash="other").allowed
    next_week = TUESDAY_10H + datetime.timedelta(days=7)
    assert decide(patient, care, "sms", next_week, content_hash="abc").allowed


def test_erased_patient_receives_nothing(patient, organization):
    patient.erased_at = TUESDAY_10H
    patient.save()
    assert (
        decide(patient, topic(organization, "care"), "inapp", TUESDAY_10H).reason
        == Reason.PATIENT_ERASED
    )


def test_bad_questions_are_clear_errors(patient, organization):
    care = topic(organization, "care")
    with pytest.raises(ConsentError, match="Unknown channel 'fax'"):
        decide(patient, care, "fax", TUESDAY_10H)
    with pytest.raises(ConsentError, match="Unknown topic 'nope'"):
        decide(patient, "nope", "sms", TUESDAY_10H)
    other = TopicFactory(
        organization=OrganizationFactory(slug="other"), slug="care-topic"
    )
    with pytest.raises(ConsentError, match="another organization"):
        decide(patient, other, "sms", TUESDAY_10H)


def test_topic_slug_is_accepted(patient, organization):
    topic(organization, "care")
    assert decide(patient, "care-topic", "sms", TUESDAY_10H).allowed


def test_new_york_patient_is_judged_in_new_york_time(organization):
    from clinic.services import patient_save

    patient = patient_save(
        patient=PatientFactory.build(
            organization=organization, time_zone="America/New_York"
        )
    )
    paris_morning = datetime.datetime(
        2026, 3, 10, 9, 0, tzinfo=PARIS
    )  # 04:00 in New York
    decision = decide(patient, topic(organization, "care"), "sms", paris_morning)
    assert decision.until == datetime.datetime(2026, 3, 10, 8, 0, tzinfo=NEW_YORK)


def test_the_inbox_fills_at_any_hour_and_care_inbox_has_no_limit(patient, organization):
    care = topic(organization, "care")
    night = datetime.datetime(2026, 3, 10, 3, 0, tzinfo=PARIS)
    assert decide(patient, care, "inapp", night).allowed
    for n in range(8):
        send(patient, care, night - datetime.timedelta(hours=n + 1), f"c{n}", "email")
    assert decide(patient, care, "email", TUESDAY_10H).reason == Reason.FATIGUE_BUDGET
    assert decide(patient, care, "inapp", TUESDAY_10H).allowed


def test_why_is_told_in_plain_words(patient, organization):
    from consent.selectors import why_describe

    newsletter = topic(organization, "marketing")
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=datetime.datetime(2026, 1, 3, 9, 0, tzinfo=PARIS),
    )
    decision = decide(patient, newsletter, "email", TUESDAY_10H)
    text = why_describe(why=decision.why, language="en")
    assert "Health campaigns and news" in text
    assert "Your consent" in text
    assert "Jan. 3, 2026" in text
    care = decide(patient, topic(organization, "care"), "sms", TUESDAY_10H)
    assert "care you receive" in why_describe(why=care.why, language="en")
