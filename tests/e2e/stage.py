"""Server-side steps of the browser tests, run in a child process against the
server's database (the browser tests never share the suite's test database).

    python -m tests.e2e.stage prepare --lang fr
    python -m tests.e2e.stage outbox --to someone@example.org --after 12
    python -m tests.e2e.stage send --patient 3 --text "…"
    python -m tests.e2e.stage state --patient 3
    python -m tests.e2e.stage conversation --lang fr
    python -m tests.e2e.stage sms-in --patient 3 --text "…"
    python -m tests.e2e.stage rights --patient 3
    python -m tests.e2e.stage staff-code --username lilas.admin
    python -m tests.e2e.stage walk-patient --lang fr
    python -m tests.e2e.stage walk-links --lang fr
    python -m tests.e2e.stage campaign --name "…" --plan

Each command prints one JSON object. ``serve`` keeps one process for a whole
session instead: it reads a command per line on stdin (a JSON list of the
arguments above) and answers each with one JSON line, ``{"result": …}`` or
``{"error": traceback}``. Starting Django costs seconds on two cores, and a
journey runs a step every few seconds (outbox polls included).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import sys
import traceback


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _patient(lang: str, tag: str, **fields):
    """A new patient "Alex Essai-<tag>" of the first demo clinic."""
    from clinic.models import Organization
    from clinic.services import patient_create

    return patient_create(
        organization=Organization.objects.get(slug="clinique-des-lilas"),
        given_name="Alex",
        family_name=f"Essai-{tag}",
        birth_date=datetime.date(1990, 5, 17),
        preferred_language=lang,
        **fields,
    )


PREPARATION = "Apportez votre carte Vitale."


def prepare(lang: str) -> dict:
    """A new patient of the first demo clinic, invited to the portal, with an
    appointment to confirm."""
    from django.utils import timezone

    from clinic.services import appointment_create
    from portal.enrolment import invitation_send

    tag = secrets.token_hex(3)
    patient = _patient(
        lang,
        tag,
        identifier=f"E2E-{lang}-{tag}",
        email=f"e2e-{lang}-{tag}@example.org",
    )
    organization = patient.organization
    starts_at = timezone.now().replace(minute=0, second=0, microsecond=0)
    starts_at += datetime.timedelta(days=3)
    appointment_create(
        patient=patient,
        site=organization.sites.order_by("pk").first(),
        practitioner=organization.staff.filter(role="clinician").first(),
        kind="consultation",
        preparation_notes=PREPARATION,
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


def conversation(lang: str) -> dict:
    """A patient of the first demo clinic with a mobile number and a portal
    account (password and a backup code), and a fresh backup code for the
    clinic's support staff member."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    from django.contrib.auth import get_user_model

    from clinic.models import Patient

    tag = secrets.token_hex(3)
    username, password = f"e2e-conv-{tag}", secrets.token_urlsafe(12)
    user = get_user_model().objects.create_user(
        username=username, password=password, email=f"{username}@example.org"
    )
    patient = _patient(
        lang,
        tag,
        identifier=f"E2E-C-{tag}",
        email=user.email,
        phone=f"+3361{secrets.randbelow(10**7):07d}",
    )
    Patient.objects.filter(pk=patient.pk).update(user=user)
    patient_code = f"p{secrets.token_hex(6)}"
    device = StaticDevice.objects.create(user=user, name="Backup", confirmed=True)
    StaticToken.objects.create(device=device, token=patient_code)
    staff = get_user_model().objects.get(username="lilas.support")
    staff_code = f"s{secrets.token_hex(6)}"
    staff_device = StaticDevice.objects.filter(user=staff, confirmed=True).first()
    StaticToken.objects.create(device=staff_device, token=staff_code)
    return {
        "patient": patient.pk,
        "phone": str(patient.phone),
        "username": username,
        "password": password,
        "code": patient_code,
        "staff": staff.username,
        "staff_code": staff_code,
    }


def sms_in(patient_id: int, text: str) -> dict:
    """An SMS from the patient's phone, as the provider's webhook hands it over."""
    from clinic.models import Patient
    from messaging.inbound import inbound_sms_receive
    from messaging.models import Message, SenderIdentity

    patient = Patient.objects.get(pk=patient_id)
    sid = f"SM{secrets.token_hex(8)}"
    # Sent to the organization's own number, as a patient's reply is.
    identity = SenderIdentity.objects.get(
        organization_id=patient.organization_id, provider="twilio"
    )
    inbound_sms_receive(
        provider="twilio",
        to_number=str(identity.phone_number),
        from_number=str(patient.phone),
        text=text,
        provider_message_id=sid,
    )
    message = Message.objects.get(
        patient=patient, idempotency_key=f"inbound:twilio:{sid}"
    )
    return {"conversation": message.conversation_id}


def rights(patient_id: int) -> dict:
    """The patient's erasure requests (oldest first) and objection."""
    from clinic.models import Patient
    from consent.gdpr.objection import patient_objects_to_automation
    from consent.models import ErasureRequest

    patient = Patient.objects.get(pk=patient_id)
    requests = ErasureRequest.objects.filter(patient=patient).order_by("pk")
    return {
        "erasure": [
            {
                "pk": r.pk,
                "status": r.status,
                "withdrawn_by": r.withdrawn_by.username if r.withdrawn_by else "",
            }
            for r in requests.select_related("withdrawn_by")
        ],
        "objects": patient_objects_to_automation(patient=patient),
        "erased": patient.erased_at is not None,
    }


def appointment(patient_id: int, days: int) -> dict:
    """An appointment of the patient ``days`` from now (negative: past)."""
    from django.utils import timezone

    from clinic.models import Patient
    from clinic.services import appointment_create

    patient = Patient.objects.get(pk=patient_id)
    organization = patient.organization
    starts_at = timezone.now().replace(minute=0, second=0, microsecond=0)
    starts_at += datetime.timedelta(days=days)
    created = appointment_create(
        patient=patient,
        site=organization.sites.order_by("pk").first(),
        practitioner=organization.staff.filter(role="clinician").first(),
        kind="consultation",
        preparation_notes=PREPARATION,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
    )
    return {"appointment": str(created.public_id)}


def staff_code(username: str) -> dict:
    """A fresh backup code for a demo staff member's backup-code device."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    code = f"s{secrets.token_hex(6)}"
    device = StaticDevice.objects.filter(
        user__username=username, confirmed=True
    ).first()
    StaticToken.objects.create(device=device, token=code)
    return {"code": code}


def _account(username: str, codes: int) -> tuple:
    """A portal user with a password and ``codes`` backup codes."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(12)
    user = get_user_model().objects.create_user(
        username=username, password=password, email=f"{username}@example.org"
    )
    device = StaticDevice.objects.create(user=user, name="Backup", confirmed=True)
    tokens = [f"p{secrets.token_hex(6)}" for _ in range(codes)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=token) for token in tokens
    )
    return user, password, tokens, device


def _upcoming(patient, days: int = 3):
    from django.utils import timezone

    from clinic.services import appointment_create

    organization = patient.organization
    starts_at = timezone.now().replace(minute=0, second=0, microsecond=0)
    starts_at += datetime.timedelta(days=days)
    return appointment_create(
        patient=patient,
        site=organization.sites.order_by("pk").first(),
        practitioner=organization.staff.filter(role="clinician").first(),
        kind="consultation",
        preparation_notes=PREPARATION,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
    )


def walk_patient(lang: str) -> dict:
    """A patient of the first demo clinic with a portal account (password and
    backup codes) and something on every portal page: an upcoming
    appointment, a message in the inbox, a contact change waiting for its
    code, a place on the waitlist. ``objects`` are what the pages of
    ``tests.e2e.pages.PAGE_OBJECTS`` open."""
    from django.utils import timezone

    from clinic.models import Patient
    from messaging.services import message_send
    from outreach.waitlist.services import waitlist_join
    from portal.contact_points.services import contact_change_request

    tag = secrets.token_hex(3)
    user, password, codes, device = _account(f"e2e-walk-{lang}-{tag}", codes=4)
    patient = _patient(
        lang,
        tag,
        identifier=f"E2E-W-{tag}",
        email=user.email,
        phone=f"+3361{secrets.randbelow(10**7):07d}",
    )
    Patient.objects.filter(pk=patient.pk).update(user=user)
    appointment = _upcoming(patient)
    message = message_send(
        patient=patient,
        topic="results-available",
        origin="staff",
        subject="Walk",
        text="Votre compte rendu est disponible.",
        channels=["inapp"],
    )
    change = contact_change_request(
        patient=patient, kind="email", value=f"new-{tag}@example.org", actor=user
    )
    today = timezone.localdate()
    place = waitlist_join(
        patient=patient,
        earliest=today + datetime.timedelta(days=1),
        latest=today + datetime.timedelta(days=30),
    )
    return {
        "username": user.username,
        "password": password,
        "codes": codes,
        "objects": {
            "message": str(message.public_id),
            "appointment": str(appointment.public_id),
            "contact_change": str(change.public_id),
            "waitlist": str(place.public_id),
            "device": device.persistent_id,
        },
    }


def walk_links(lang: str) -> dict:
    """The links a patient without an account gets by email or SMS, fresh:
    enrolment, a survey, unsubscribe, one-tap confirm, a freed slot."""
    from django.urls import reverse
    from django.utils import timezone

    from clinic.appointments.tokens import appointment_action_url
    from clinic.models import Invitation
    from consent.unsubscribe import unsubscribe_token_make
    from feedback.models import Survey
    from feedback.services import survey_invite
    from feedback.tokens import invitation_url
    from messaging.models import Topic
    from outreach.waitlist.models import SlotOffer, SlotOfferRecipient
    from outreach.waitlist.services import offer_token_make, waitlist_join
    from portal.enrolment import _hash

    tag = secrets.token_hex(3)
    patient = _patient(
        lang, tag, identifier=f"E2E-L-{tag}", email=f"e2e-link-{tag}@example.org"
    )
    organization = patient.organization
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        patient=patient,
        token_hash=_hash(token),
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    survey = Survey.objects.for_organization(organization).filter(is_active=True)
    invitation = survey_invite(survey=survey.order_by("pk").first(), patient=patient)
    topic = (
        Topic.objects.for_organization(organization)
        .filter(purpose="marketing")
        .order_by("pk")
        .first()
    )
    appointment = _upcoming(patient, days=4)
    # A slot another patient freed, offered to this one from the waitlist.
    other = _patient(lang, f"{tag}-freed", identifier=f"E2E-F-{tag}")
    freed = _upcoming(other, days=5)
    today = timezone.localdate()
    entry = waitlist_join(
        patient=patient,
        earliest=today + datetime.timedelta(days=1),
        latest=today + datetime.timedelta(days=30),
    )
    offer = SlotOffer.objects.create(organization=organization, freed=freed)
    recipient = SlotOfferRecipient.objects.create(offer=offer, entry=entry)
    return {
        "enrol": reverse("portal:enrol", args=[token]),
        "survey": invitation_url(invitation),
        "unsubscribe": reverse(
            "consent:unsubscribe",
            args=[unsubscribe_token_make(patient=patient, topic=topic)],
        ),
        "appointment_action": appointment_action_url(appointment, "confirm"),
        "slot_offer": reverse("slot_offer", args=[offer_token_make(recipient)]),
    }


def campaign(name: str, plan: bool) -> dict:
    """A campaign's status, by its name; with ``plan``, after the planner's
    tick that the scheduler runs every minute (``campaigns_plan_due``)."""
    from django.utils import timezone

    from campaigns.models import Campaign
    from campaigns.planner import campaigns_plan_due

    if plan:
        campaigns_plan_due(timezone.now())
    found = Campaign.objects.filter(name=name).values("pk", "status").first()
    return found or {}


def _parser() -> argparse.ArgumentParser:
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
    commands.add_parser("conversation").add_argument("--lang", required=True)
    inbound = commands.add_parser("sms-in")
    inbound.add_argument("--patient", type=int, required=True)
    inbound.add_argument("--text", required=True)
    commands.add_parser("rights").add_argument("--patient", type=int, required=True)
    commands.add_parser("staff-code").add_argument("--username", required=True)
    booking = commands.add_parser("appointment")
    booking.add_argument("--patient", type=int, required=True)
    booking.add_argument("--days", type=int, default=3)
    commands.add_parser("walk-patient").add_argument("--lang", required=True)
    commands.add_parser("walk-links").add_argument("--lang", required=True)
    status = commands.add_parser("campaign")
    status.add_argument("--name", required=True)
    status.add_argument("--plan", action="store_true")
    commands.add_parser("serve")
    return parser


def run(args: argparse.Namespace) -> dict:
    if args.command == "prepare":
        return prepare(args.lang)
    if args.command == "outbox":
        return outbox(args.to, args.after)
    if args.command == "send":
        return send(args.patient, args.text)
    if args.command == "conversation":
        return conversation(args.lang)
    if args.command == "sms-in":
        return sms_in(args.patient, args.text)
    if args.command == "rights":
        return rights(args.patient)
    if args.command == "staff-code":
        return staff_code(args.username)
    if args.command == "appointment":
        return appointment(args.patient, args.days)
    if args.command == "walk-patient":
        return walk_patient(args.lang)
    if args.command == "walk-links":
        return walk_links(args.lang)
    if args.command == "campaign":
        return campaign(args.name, args.plan)
    return state(args.patient)


def serve(parser: argparse.ArgumentParser) -> int:
    """Answer commands from stdin until it closes."""
    from django.db import close_old_connections

    # Replies alone on the real stdout: anything else printed goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        close_old_connections()  # as between two requests
        try:
            args = parser.parse_args(json.loads(line))
            if args.command == "serve":
                raise ValueError("already serving")
            reply = {"result": run(args)}
        except (Exception, SystemExit):  # argparse exits on a bad command
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _setup()
    if args.command == "serve":
        return serve(parser)
    sys.stdout.write(json.dumps(run(args)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
