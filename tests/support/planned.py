"""Deliveries planned and committed, as ``message_send`` leaves them, in bulk:
the starting point of the reliability tests and of bench/delivery.py."""

from __future__ import annotations

import datetime
import uuid

BODY = "Rappel : votre rendez-vous est demain à 10:30 au site Lilas Belleville."


def planned_deliveries(*, channel: str, count: int, body: str = BODY) -> list[int]:
    """``count`` queued deliveries on ``channel`` to as many new patients of a
    new organization whose policy lets anything through at any hour, and
    which sends from its own number with every provider."""
    from clinic.models import Organization, Patient
    from consent.models import Topic
    from consent.services import policy_get
    from messaging.models import Delivery, Message, SenderIdentity

    organization = Organization.objects.create(
        name="Planned",
        slug=f"planned-{uuid.uuid4().hex[:8]}",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    for provider in ("sinch", "twilio"):
        SenderIdentity.objects.create(
            organization=organization, provider=provider, phone_number="+33757000001"
        )
    policy = policy_get(organization=organization)
    policy.send_from, policy.send_until = datetime.time(0), datetime.time.max
    policy.fatigue_budget = 1000
    policy.save()
    topic = Topic.objects.create(
        organization=organization,
        slug="reminders",
        name_en="Reminders",
        name_fr="Rappels",
        purpose="care",
        channels=["inapp", "email", "sms"],
    )
    patients = Patient.objects.bulk_create(
        (
            Patient(
                organization=organization,
                identifier=f"P{n:07d}",
                given_name="P",
                family_name=f"N{n}",
                birth_date=datetime.date(1980, 1, 1),
                preferred_language="fr",
                time_zone="Europe/Paris",
                email=f"p{n}@example.org",
                phone=f"+3361{n:07d}",
                phone_is_mobile=True,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )
    messages = Message.objects.bulk_create(
        (
            Message(
                organization=organization,
                patient=p,
                topic=topic,
                origin="campaign",
                sensitivity="public",
                language="fr",
                body=body,
                free_text=True,
            )
            for p in patients
        ),
        batch_size=2000,
    )
    deliveries = Delivery.objects.bulk_create(
        (
            Delivery(
                message=m,
                channel=channel,
                body=body,
                subject="Rappel",
                address=m.patient.email if channel == "email" else str(m.patient.phone),
            )
            for m in messages
        ),
        batch_size=2000,
    )
    return [d.pk for d in deliveries]


def main() -> None:
    """``python -m tests.support.planned CHANNEL COUNT BATCH``: plan ``COUNT``
    deliveries in the database of ``DATABASE_URL`` (a test's own server), queue
    their delivery tasks ``BATCH`` ids at a time for the clusters, and print
    the ids as JSON."""
    import json
    import sys

    import django

    django.setup()
    from django_q.tasks import async_task

    channel, count, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ids = planned_deliveries(channel=channel, count=count)
    for start in range(0, len(ids), batch):
        async_task("messaging.tasks.deliveries_process", ids[start : start + batch])
    sys.stdout.write(json.dumps(ids))


if __name__ == "__main__":
    main()
