"""Demo reminder rules (called by seed_demo after consent and messaging have
made the topics and templates); idempotent: rules are looked up by name."""

from clinic.models import Organization
from consent.models import Topic
from outreach.models_reminders import ReminderRule
from outreach.reminders import reminder_rule_save

RULES = [
    # name, kind, offsets, only if unconfirmed
    ("Appointment reminders", "", "7d, 48h, 1d@18:00", False),
    ("Last call if not confirmed", "", "2h", True),
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
        have = set(
            ReminderRule.objects.for_organization(organization).values_list(
                "name", flat=True
            )
        )
        for name, kind, offsets, only_if_unconfirmed in RULES:
            report.count("reminder rules", name not in have)
            if name in have:
                continue
            # Saving plans the reminders of every demo appointment to come.
            reminder_rule_save(
                rule=ReminderRule(
                    organization=organization,
                    name=name,
                    kind=kind,
                    offsets=offsets,
                    topic=topic,
                    only_if_unconfirmed=only_if_unconfirmed,
                )
            )


def seed_present(*, report) -> None:
    """After the history (``clinic.demo_history``): the waiting list of now."""
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
    from outreach.models_waitlist import WaitlistEntry
    from outreach.waitlist import waitlist_join

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
