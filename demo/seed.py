"""Demo data: two clinics, their staff, patients, two weeks of appointments to
come and the ninety days of history before them.

Deterministic (a fixed random seed) and idempotent: every row is looked up by
its natural key first, so running it again creates nothing new.

Three steps, in the order of the story: the clinics set Liaison up on the first
of the ninety days (the clock moved there), ``demo.history`` plays the
ninety days up to now through the product's services, then each app's
``seed_present`` adds what happens now (messages just sent, a waiting list).
"""

import datetime
import math
import random
import zoneinfo
from dataclasses import dataclass, field
from importlib import import_module

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from clinic import services
from clinic.demo_data import (
    DEMO_PASSWORD,
    DEMO_SUPERUSER,
    ORGANIZATIONS,
    PATIENTS_PER_ORGANIZATION,
    STAFF_FIRST_NAMES,
    STAFF_ROLES,
    DemoOrganization,
)
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Caregiver,
    Organization,
    Patient,
    Site,
    StaffMember,
    VisitType,
)
from consent.models import Topic
from demo import history as demo_history
from messaging.services import message_send
from outreach.reminders.planner import appointment_reminder_context


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)

    def count(self, label: str, created: bool) -> None:
        self.created.setdefault(label, 0)
        if created:
            self.created[label] += 1


def _phone(org: DemoOrganization, rng: random.Random, index: int) -> str:
    prefix = rng.choice(org.phone_prefixes)
    if prefix.startswith("+1"):
        # 555-01xx numbers are reserved for fiction in North America.
        return f"{prefix}01{index % 100:02d}"
    return f"{prefix}{rng.randrange(10**7):07d}"


@transaction.atomic
def seed_demo(*, today: datetime.date | None = None) -> SeedReport:
    report = SeedReport()
    now = timezone.now()
    today = today or timezone.localdate()
    with demo_history.story_clock(demo_history.story_start(today)):
        _seed_setup(report, today)
    demo_history.seed(report=report, today=today, until=now)
    _seed_present_messages()
    _seed_other_apps(report, step="seed_present")
    return report


def _seed_setup(report: SeedReport, today: datetime.date) -> None:
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    _seed_superuser(report)
    for spec in ORGANIZATIONS:
        organization, created = Organization.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "time_zone": spec.time_zone,
                "default_language": spec.language,
                "country": spec.country,
                "contact_email": spec.contact_email,
                "contact_phone": spec.contact_phone,
            },
        )
        report.count("organizations", created)
        _seed_branding(spec, organization)
        sites = []
        addresses = dict(zip(spec.sites, spec.site_addresses, strict=False))
        for name in spec.sites:
            site, created = Site.objects.get_or_create(
                organization=organization,
                name=name,
                defaults={"address": addresses.get(name, "")},
            )
            report.count("sites", created)
            sites.append(site)
        _seed_visit_types(spec, organization, report)
        clinicians = _seed_staff(spec, organization, sites, report)
        with demo_history.story_clock(demo_history.records_imported(today)):
            patients = _seed_patients(spec, organization, rng, report)
        _seed_appointments(
            spec, organization, sites, clinicians, patients, rng, today, report
        )
        _seed_portal_accounts(spec, patients, report)
    _seed_other_apps(report)


def _seed_visit_types(
    spec: DemoOrganization, organization: Organization, report
) -> None:
    """Names for the demo's appointment kinds, in both languages."""
    for code, name_fr, name_en in spec.visit_types:
        _, created = VisitType.objects.get_or_create(
            organization=organization,
            code=code,
            defaults={"name_fr": name_fr, "name_en": name_en},
        )
        report.count("visit types", created)


def _seed_branding(spec: DemoOrganization, organization: Organization) -> None:
    """The clinic's sender name, accent colour and logo, where it has none
    (an operator's own choices are kept)."""
    changed = []
    if spec.sender_name and not organization.sender_name:
        organization.sender_name = spec.sender_name
        changed.append("sender_name")
    if spec.accent_colour and not organization.accent_colour:
        organization.accent_colour = spec.accent_colour
        changed.append("accent_colour")
    if changed:
        organization.full_clean()
        organization.save(update_fields=[*changed, "updated_at"])
    if spec.logo and not organization.logo_hash:
        services.organization_logo_set(
            organization=organization, data=demo_logo(spec.logo, spec.accent_colour)
        )


def demo_logo(shape: str, colour: str, size: int = 96) -> bytes:
    """A small PNG drawn in code (no binary file in the repository): a
    rounded square in ``colour`` with a white ``flower`` or ``waves``."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=colour)
    middle, white = size // 2, (255, 255, 255, 255)
    if shape == "flower":
        petal, reach = size // 7, size // 5
        for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0)):
            x, y = middle + dx * reach, middle + dy * reach
            draw.ellipse((x - petal, y - petal, x + petal, y + petal), fill=white)
        heart = petal // 2
        draw.ellipse(
            (middle - heart, middle - heart, middle + heart, middle + heart),
            fill=colour,
        )
    else:
        margin, height = size // 6, size // 14
        for row in (-1, 0, 1):
            base = middle + row * size // 5
            points = [
                (x, base + height * math.sin((x - margin) * 2 * math.pi / (size / 3)))
                for x in range(margin, size - margin + 1)
            ]
            draw.line(points, fill=white, width=max(2, size // 14), joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _seed_other_apps(report: SeedReport, step: str = "seed") -> None:
    """Let each app that has a ``demo`` module add its own demo data, in app
    order: its ``seed`` (the set-up) or, with ``step``, its ``seed_present``
    (what happens now, after the history) when it has one.

    Each app's seeder knows only its app and the ones below it; the demo sits
    above them all and finds their seeders the way admin finds ``admin.py``
    modules.
    """
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "demo"):
            seeder = getattr(import_module(f"{app_config.name}.demo"), step, None)
            if seeder is not None:
                seeder(report=report)


def _seed_portal_accounts(spec, patients, report) -> None:
    """A patient account and a caregiver account per organization, so a
    newcomer can read an inbox at once (see README, "Demo logins")."""
    user_model = get_user_model()
    patient, child = patients[0], patients[1]
    accounts = [(f"{spec.prefix}.patient", patient), (f"{spec.prefix}.parent", None)]
    for username, record in accounts:
        user = user_model.objects.filter(username=username).first()
        report.count("portal accounts", user is None)
        if user is None:
            user = user_model.objects.create_user(
                username=username,
                password=DEMO_PASSWORD,
                email=(record.email if record else f"{username}@example.org"),
            )
        if record is not None and record.user_id is None:
            Patient.objects.filter(pk=record.pk).update(user=user)
        if record is None:
            Caregiver.objects.get_or_create(
                user=user,
                patient=child,
                defaults={"relationship": Caregiver.Relationship.PARENT},
            )


def _seed_superuser(report: SeedReport) -> None:
    user_model = get_user_model()
    exists = user_model.objects.filter(username=DEMO_SUPERUSER).exists()
    if not exists:
        user_model.objects.create_superuser(
            username=DEMO_SUPERUSER, email="admin@example.org", password=DEMO_PASSWORD
        )
    report.count("staff users", not exists)


def _seed_staff(spec, organization, sites, report) -> list[StaffMember]:
    clinicians = []
    for role in STAFF_ROLES:
        username = f"{spec.prefix}.{role}"
        member = (
            StaffMember.objects.filter(user__username=username)
            .select_related("user")
            .first()
        )
        report.count("staff users", member is None)
        # Patients read the clinician's name on their appointments; staff
        # read everyone's in admin: in the clinic's language.
        first_name = STAFF_FIRST_NAMES[spec.language][role]
        if member is None:
            member = services.staff_member_create(
                organization=organization,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                first_name=first_name,
                last_name=spec.name.split()[-1],
                email=f"{role}@{spec.prefix}.example.org",
            )
            member.sites.set(sites)
        elif member.user.first_name == role.capitalize() != first_name:
            # Named in English by an earlier demo.
            member.user.first_name = first_name
            member.user.save(update_fields=["first_name"])
        if role == "clinician":
            clinicians.append(member)
    return clinicians


def _seed_patients(spec, organization, rng, report) -> list[Patient]:
    other_language = "en" if spec.language == "fr" else "fr"
    existing = {p.identifier: p for p in Patient.objects.for_organization(organization)}
    patients = []
    for index in range(1, PATIENTS_PER_ORGANIZATION + 1):
        identifier = f"{spec.prefix[:3].upper()}-{index:04d}"
        # Draw every random value even for existing rows, so the sequence (and
        # so the data) is the same on every run.
        given = rng.choice(spec.given_names)
        family = rng.choice(spec.family_names)
        birth_date = datetime.date(
            rng.randrange(1940, 2020), rng.randrange(1, 13), rng.randrange(1, 29)
        )
        phone = _phone(spec, rng, index)
        language = other_language if index % 5 == 0 else spec.language
        patient = existing.get(identifier)
        report.count("patients", patient is None)
        if patient is None:
            patient = services.patient_create(
                organization=organization,
                identifier=identifier,
                given_name=given,
                family_name=family,
                birth_date=birth_date,
                preferred_language=language,
                time_zone=spec.time_zone,
                email=f"{given}.{family}.{index}@example.org".lower()
                .replace("é", "e")
                .replace("è", "e"),
                phone=phone,
            )
        patients.append(patient)
    return patients


def _seed_appointments(
    spec, organization, sites, clinicians, patients, rng, today, report
) -> None:
    zone = zoneinfo.ZoneInfo(spec.time_zone)
    existing = set(
        Appointment.objects.for_organization(organization)
        .filter(external_id__startswith="DEMO-")
        .values_list("external_id", flat=True)
    )
    for patient in patients:
        for number in (1, 2):
            day = today + datetime.timedelta(days=rng.randrange(1, 15))
            hour, minute = rng.randrange(8, 18), rng.choice((0, 15, 30, 45))
            kind = rng.choice(spec.kinds)
            site = rng.choice(sites)
            external_id = f"DEMO-{patient.identifier}-{number}"
            created = external_id not in existing
            report.count("appointments", created)
            if not created:
                continue
            starts_at = datetime.datetime.combine(
                day, datetime.time(hour, minute), zone
            )
            services.appointment_create(
                patient=patient,
                site=site,
                practitioner=clinicians[0] if clinicians else None,
                kind=kind,
                preparation_notes=dict(spec.preparation).get(kind, ""),
                starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(minutes=30),
                external_id=external_id,
            )


def _seed_present_messages() -> None:
    """After the history: messages sent now."""
    for organization in Organization.objects.filter(
        slug__in=[o.slug for o in ORGANIZATIONS]
    ):
        topics = {t.slug: t for t in Topic.objects.for_organization(organization)}
        _send_demo_messages(organization, topics)


def _send_demo_messages(organization, topics) -> None:
    """The first patients get a reminder and a result, so inboxes are not empty.

    The reminder is of the patient's next appointment, with the values the
    reminder sender gives (its date and time in the patient's zone and
    language), so what it says is what the portal shows."""
    patients = Patient.objects.for_organization(organization).order_by("identifier")[:4]
    for patient in patients:
        appointment = (
            Appointment.objects.for_organization(organization)
            .upcoming()
            .filter(
                patient=patient,
                status__in=[AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED],
            )
            .select_related("patient__organization", "site", "practitioner")
            .order_by("starts_at", "pk")
            .first()
        )
        if appointment is not None:
            message_send(
                patient=patient,
                topic=topics["appointment-reminders"],
                origin="system",
                idempotency_key=f"demo-reminder-{patient.identifier}",
                context=appointment_reminder_context(appointment),
            )
        message_send(
            patient=patient,
            topic=topics["results-available"],
            origin="system",
            idempotency_key=f"demo-result-{patient.identifier}",
            context={
                "result_name": "Bilan sanguin"
                if patient.preferred_language == "fr"
                else "Blood panel"
            },
        )
