"""Campaign planning: 100,000 recipients planned, against raw COPY and a naive loop.

Planning means everything between "schedule" and queued deliveries: freezing
the audience, consent for every channel of every patient, rendering, and the
Message and Delivery rows (with their delivery tasks queued). Beside it: the
rate at which PostgreSQL COPY writes the same rows with no logic at all (the
physical limit here), and a naive loop (``message_send`` one patient at a
time: decide, render, save) on 5,000 patients.

Prints one JSON line: recipients, seconds, per_second, raw_copy_per_second,
naive_per_second, vendor.
Run: DATABASE_URL=postgres://… .venv/bin/python bench/campaign.py [--scale 0.01]
"""

import datetime
import io
import random

from harness import Timer, bench_database, emit, log, parse_args, setup_django

RECIPIENTS = 100_000
NAIVE = 5_000
AT = datetime.datetime(
    2026, 3, 10, 10, 0, tzinfo=datetime.UTC
)  # a Tuesday, 11:00 Paris


def build(n_patients: int, rng: random.Random):
    from django.contrib.auth import get_user_model

    from clinic.models import Organization, Patient, StaffMember
    from consent.models import ConsentEvent, ConsentState, PatientPreferences, Topic
    from messaging.models import Template

    organization = Organization.objects.create(
        name="Bench",
        slug="bench",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    topic = Topic.objects.create(
        organization=organization,
        slug="flu",
        name_en="Flu",
        name_fr="Grippe",
        purpose="marketing",
        channels=["inapp", "email", "sms"],
    )
    for language, text in (("fr", "Vaccin grippe"), ("en", "Flu shot")):
        for channel in ("inapp", "email", "sms"):
            Template.objects.create(
                topic=topic,
                channel=channel,
                language=language,
                subject=text if channel == "email" else "",
                body=f"{text}, {{{{ patient_first_name }}}} : {{{{ portal_link }}}}",
            )
    zones = ["Europe/Paris", "America/New_York"]
    Patient.objects.bulk_create(
        (
            Patient(
                organization=organization,
                identifier=f"B{n:07d}",
                given_name=f"Given{n}",
                family_name=f"Family{n}",
                birth_date=datetime.date(1950 + n % 50, 1, 1),
                preferred_language="en" if rng.random() < 0.2 else "fr",
                time_zone=rng.choice(zones),
                email=f"p{n}@example.org" if rng.random() < 0.9 else "",
                phone=f"+3361{n:07d}" if rng.random() < 0.8 else "",
                phone_is_mobile=True,
            )
            for n in range(n_patients)
        ),
        batch_size=5000,
    )
    ids = list(Patient.objects.values_list("id", flat=True))
    PatientPreferences.objects.bulk_create(
        (PatientPreferences(patient_id=pid) for pid in ids if rng.random() < 0.3),
        batch_size=5000,
    )
    # 70% opted in to campaigns, a few of them withdrew SMS since.
    events = [
        ConsentEvent(
            patient_id=pid,
            purpose="marketing",
            action="granted",
            source="import",
            occurred_at=AT - datetime.timedelta(days=30),
        )
        for pid in ids
        if rng.random() < 0.7
    ]
    events += [
        ConsentEvent(
            patient_id=e.patient_id,
            purpose="marketing",
            channel="sms",
            action="withdrawn",
            source="sms-keyword",
            occurred_at=AT - datetime.timedelta(days=3),
        )
        for e in events
        if rng.random() < 0.1
    ]
    ConsentEvent.objects.bulk_create(events, batch_size=5000)
    ConsentState.objects.bulk_create(
        (
            ConsentState(
                patient_id=e.patient_id,
                scope="purpose:marketing",
                channel=e.channel or "*",
                granted=e.action == "granted",
                event_id=e.pk,
                occurred_at=e.occurred_at,
            )
            for e in ConsentEvent.objects.all().iterator(chunk_size=5000)
        ),
        batch_size=5000,
        ignore_conflicts=True,
    )
    users = get_user_model().objects
    author = users.create(username="author", email="author@example.org", is_staff=True)
    # Marketing staff may run a marketing campaign (clinic.roles).
    StaffMember.objects.create(user=author, organization=organization, role="marketing")
    approver = users.create(username="approver", is_superuser=True, is_staff=True)
    return organization, topic, author, approver


# Planning as a cluster of this machine's size runs it (``Q_WORKERS``, 2 here):
# the finder's worker and one ``campaigns.tasks.campaign_plan`` task plan the
# campaign's pages side by side, each in its own process and connection.
PLANNERS = 2


def _planner(campaign_id: int) -> None:
    """One worker's share (a forked process): what the finder and the
    planner task run."""
    from django.db import connections

    from campaigns.planner import campaign_plan_due

    try:
        campaign_plan_due(campaign_id=campaign_id, now=AT)
    finally:
        connections.close_all()


def plan(organization, topic, author, approver) -> int:
    import multiprocessing

    from django.db import connections

    from campaigns.models import Campaign, CampaignRecipient
    from campaigns.services import campaign_schedule

    campaign = Campaign.objects.create(
        organization=organization,
        topic=topic,
        name="Flu 2026",
        author=author,
        approver=approver,
        status="approved",
    )
    campaign_schedule(campaign=campaign, user=approver, now=AT)
    connections.close_all()  # each worker has its own connection
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_planner, args=(campaign.pk,)) for _ in range(PLANNERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise SystemExit(f"a planner failed ({worker.exitcode})")
    return (
        CampaignRecipient.objects.filter(campaign=campaign)
        .exclude(status="pending")
        .count()
    )


def raw_copy_rate(recipients: int) -> float:
    """COPY the rows the plan wrote (messages and deliveries), with no logic."""
    from django.db import connection

    from messaging.models import Delivery, Message
    from messaging.services.copy_writer import DELIVERY_COLUMNS, MESSAGE_COLUMNS

    # The columns the planner writes, less the ids the raw tables draw.
    message_columns = [c for c in MESSAGE_COLUMNS if c != "id"]
    delivery_columns = [c for c in DELIVERY_COLUMNS if c != "id"]
    with connection.cursor() as cursor:
        dumps = {}
        for table, columns in (
            (Message._meta.db_table, message_columns),
            (Delivery._meta.db_table, delivery_columns),
        ):
            buffer = io.BytesIO()
            with cursor.cursor.copy(
                f"COPY (SELECT {', '.join(columns)} FROM {table}) TO STDOUT"
            ) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            dumps[table] = buffer.getvalue()
            # The same table, indexes, unique constraints and defaults; no
            # foreign keys (the copied rows point at the real ones).
            cursor.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
        with Timer() as timer:
            for table, columns in (
                (Message._meta.db_table, message_columns),
                (Delivery._meta.db_table, delivery_columns),
            ):
                with cursor.cursor.copy(
                    f"COPY raw_{table} ({', '.join(columns)}) FROM STDIN"
                ) as copy:
                    copy.write(dumps[table])
    return recipients / timer.seconds


def naive_rate(organization, topic, count: int) -> float:
    from clinic.models import Patient
    from messaging.services import message_send

    patients = list(
        Patient.objects.filter(organization=organization).order_by("?")[:count]
    )
    with Timer() as timer:
        for patient in patients:
            message_send(
                patient=patient,
                topic=topic,
                origin="campaign",
                idempotency_key=f"naive:{patient.pk}",
                at=AT,
            )
    return count / timer.seconds


def _rss_mb(field: str) -> int | None:
    """A memory figure of this process from /proc (Linux), in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux ``clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def main() -> None:
    args = parse_args(__doc__)
    setup_django()
    n_patients = max(20, int(RECIPIENTS * args.scale))
    naive = max(10, int(NAIVE * args.scale))
    with bench_database("campaign") as vendor:
        from django.db import connection

        rng = random.Random(42)
        with Timer() as building:
            organization, topic, author, approver = build(n_patients, rng)
        log(f"built {n_patients} patients in {building.seconds:.1f} s on {vendor}")
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
                # The build's dirty pages written now rather than by the
                # checkpointer while planning is timed (as bench/insights.py).
                cursor.execute("CHECKPOINT")
        # The planners fork from this process, which has imported everything
        # they run but the holiday calendars consent loads on first use: 279
        # modules, compiled from source in each planner where bytecode is not
        # cached (PYTHONDONTWRITEBYTECODE), a third of a second apiece. A
        # cluster's workers have loaded them with an earlier task.
        import holidays

        holidays.country_holidays(organization.country)
        before = _rss_mb("VmRSS")
        _reset_peak_rss()
        with Timer() as timer:
            planned = plan(organization, topic, author, approver)
        if planned != n_patients:
            raise SystemExit(f"expected {n_patients} recipients, planned {planned}")
        # Planning's own peak, apart from building the data (which holds the
        # bench's rows in memory) and the raw COPY below (whole table dumps).
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        log(
            f"planned {planned} in {timer.seconds:.2f} s; RSS {before} MB before, "
            f"peak {_rss_mb('VmHWM')} MB while scheduling, a planner's peak "
            f"{children} MB"
        )
        raw = raw_copy_rate(planned) if vendor == "postgresql" else None
        slow = naive_rate(organization, topic, naive)
        emit(
            {
                "recipients": planned,
                "seconds": round(timer.seconds, 3),
                "per_second": round(planned / timer.seconds),
                "raw_copy_per_second": round(raw) if raw else None,
                "naive_per_second": round(slow),
                "vendor": vendor,
            }
        )


if __name__ == "__main__":
    main()
