"""Demo reminder rules (called by seed_demo after consent and messaging have
made the topics and templates); idempotent: rules are looked up by name, which
is in the clinic's language (staff read it; patients never do)."""

from clinic.demo_data import demo_row_named
from clinic.models import Organization
from consent.models import Topic
from outreach.reminders.models import ReminderRule
from outreach.reminders.services import reminder_rule_save

RULES = [
    # names, kind, offsets, only if unconfirmed
    (
        {"fr": "Rappels de rendez-vous", "en": "Appointment reminders"},
        "",
        "7d, 48h, 1d@18:00",
        False,
    ),
    (
        {"fr": "Dernier rappel si non confirmé", "en": "Last call if not confirmed"},
        "",
        "2h",
        True,
    ),
]


def seed(*, report) -> None:
    from clinic.demo_data import ORGANIZATIONS

    for organization in Organization.objects.filter(
        slug__in=[o.slug for o in ORGANIZATIONS]
    ):
        topic = (
            Topic.objects.for_organization(organization)
            .filter(slug="appointment-reminders")
            .first()
        )
        if topic is None:
            continue
        rules = ReminderRule.objects.for_organization(organization)
        language = organization.default_language
        for names, kind, offsets, only_if_unconfirmed in RULES:
            have = demo_row_named(rules, names, language) is not None
            report.count("reminder rules", not have)
            if have:
                continue
            # Saving plans the reminders of every demo appointment to come.
            reminder_rule_save(
                rule=ReminderRule(
                    organization=organization,
                    name=names[language],
                    kind=kind,
                    offsets=offsets,
                    topic=topic,
                    only_if_unconfirmed=only_if_unconfirmed,
                )
            )


def seed_present(*, report) -> None:
    """After the history (``demo.history``): the waiting list of now."""
    from clinic.demo_data import ORGANIZATIONS

    for organization in Organization.objects.filter(
        slug__in=[o.slug for o in ORGANIZATIONS]
    ):
        _seed_waitlist(organization, report)


def _seed_waitlist(organization, report) -> None:
    """Two patients wait for an earlier slot in the coming month: cancel a
    demo appointment in admin and watch the offers reach the outbox."""
    import datetime

    from django.utils import timezone

    from clinic.models import Patient
    from outreach.waitlist.models import WaitlistEntry
    from outreach.waitlist.services import waitlist_join

    if WaitlistEntry.objects.for_organization(organization).exists():
        return
    today = timezone.localdate()
    patients = Patient.objects.for_organization(organization).order_by("-identifier")
    for patient in patients[:2]:
        waitlist_join(
            patient=patient,
            earliest=today,
            latest=today + datetime.timedelta(days=30),
        )
        report.count("waitlist entries", True)
