"""Server-side steps of the browser tests, run in a child process against the
server's database (the browser tests never share the suite's test database).

    python -m tests.e2e.stage prepare --lang fr
    python -m tests.e2e.stage outbox --to someone@example.org --after 12
    python -m tests.e2e.stage send --patient 3 --text "…"
    python -m tests.e2e.stage state --patient 3

Each command prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import sys


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare(lang: str) -> dict:
    """A new patient of the first demo clinic, invited to the portal, with an
    appointment to confirm."""
    from django.utils import timezone

    from clinic.models import Organization
    from clinic.services import appointment_create, patient_create
    from portal.enrolment import invitation_send

    organization = Organization.objects.get(slug="clinique-des-lilas")
    tag = secrets.token_hex(3)
    patient = patient_create(
        organization=organization,
        identifier=f"E2E-{lang}-{tag}",
        given_name="Alex",
        family_name=f"Essai-{tag}",
        birth_date=datetime.date(1990, 5, 17),
        preferred_language=lang,
        email=f"e2e-{lang}-{tag}@example.org",
    )
    starts_at = timezone.now().replace(minute=0, second=0, microsecond=0)
    starts_at += datetime.timedelta(days=3)
    appointment_create(
        patient=patient,
        site=organization.sites.order_by("pk").first(),
        kind="consultation",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
    )
    invitation_send(patient=patient)
    return {
        "patient": patient.pk,
        "email": patient.email,
        "birth_date": "1990-05-17",
        "username": f"e2e-{lang}-{tag}",
    }


def outbox(to: str, after: int) -> dict:
    from messaging.models import OutboxEntry

    entry = OutboxEntry.objects.filter(to=to, pk__gt=after).order_by("-pk").first()
    if entry is None:
        return {}
    return {"id": entry.pk, "subject": entry.subject, "body": entry.body}


def send(patient_id: int, text: str) -> dict:
    from clinic.models import Patient
    from messaging.services import message_send

    patient = Patient.objects.get(pk=patient_id)
    message = message_send(
        patient=patient,
        topic="results-available",
        origin="staff",
        subject=text,
        text=text,
        channels=["inapp"],
    )
    return {"message": str(message.public_id)}


def state(patient_id: int) -> dict:
    from clinic.models import Patient
    from consent.models import ConsentEvent
    from messaging.models import Message

    patient = Patient.objects.get(pk=patient_id)
    return {
        "appointments": list(patient.appointments.values_list("status", flat=True)),
        "consent_events": ConsentEvent.objects.for_patient(patient).count(),
        "inbound": list(
            Message.objects.filter(
                patient=patient, direction=Message.Direction.INBOUND
            ).values_list("body", flat=True)
        ),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare").add_argument("--lang", required=True)
    box = commands.add_parser("outbox")
    box.add_argument("--to", required=True)
    box.add_argument("--after", type=int, default=0)
    sending = commands.add_parser("send")
    sending.add_argument("--patient", type=int, required=True)
    sending.add_argument("--text", required=True)
    commands.add_parser("state").add_argument("--patient", type=int, required=True)
    args = parser.parse_args(argv)
    _setup()
    if args.command == "prepare":
        result = prepare(args.lang)
    elif args.command == "outbox":
        result = outbox(args.to, args.after)
    elif args.command == "send":
        result = send(args.patient, args.text)
    else:
        result = state(args.patient)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
