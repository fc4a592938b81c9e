"""The portal inbox: server time and SQL queries of the inbox page and of
opening a message, for a patient with 500 messages among 2,000,000.

Prints one JSON line: patients, messages, inbox_p50_ms, inbox_p95_ms,
message_p95_ms, inbox_queries, message_queries, vendor. Times are measured
through the Django test client (middleware, session, template included).
Run: DATABASE_URL=postgres://… .venv/bin/python bench/inbox.py [--scale 0.01]
"""

import datetime
import json
import os
import random
import statistics
import uuid

from harness import Timer, bench_database, emit, log, parse_args, setup_django

PATIENTS = 100_000
MESSAGES = 2_000_000
FOCUS_MESSAGES = 500  # the patient whose pages are measured
REQUESTS = 60
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def code(n: int) -> str:
    """A unique authenticity code per row (the real ones are random)."""
    chars = []
    for _ in range(8):
        n, r = divmod(n, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[r])
    return "".join(chars)


def build_patients(n_patients: int):
    from django.contrib.auth import get_user_model

    from clinic.models import Organization, Patient
    from consent.models import Topic

    organization = Organization.objects.create(
        name="Bench",
        slug="bench",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    topics = [
        Topic.objects.create(
            organization=organization,
            slug=purpose,
            name_en=purpose,
            name_fr=purpose,
            purpose=purpose,
            channels=["inapp", "email", "sms"],
        )
        for purpose in ("care", "marketing")
    ]
    user = get_user_model().objects.create(username="bench-focus")
    Patient.objects.bulk_create(
        (
            Patient(
                organization=organization,
                identifier=f"B{n:07d}",
                given_name="Bench",
                family_name=f"Patient{n}",
                birth_date=datetime.date(1980, 1, 1),
                preferred_language="fr",
                time_zone="Europe/Paris",
                user=user if n == 0 else None,
            )
            for n in range(n_patients)
        ),
        batch_size=5000,
    )
    return organization, topics, user


def conversations_build(organization) -> tuple[list[int], dict[int, list[int]]]:
    """Patient ids (the focus patient first) and their conversations: five
    for the focus patient, one for every fourth other patient."""
    from clinic.models import Patient
    from conversations.models import Conversation

    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    Conversation.objects.bulk_create(
        Conversation(organization=organization, patient_id=pid, subject=f"T{pid}")
        for pid in [ids[0]] * 5 + ids[1::4]
    )
    threads: dict[int, list[int]] = {}
    for pid, cid in Conversation.objects.values_list("patient_id", "pk"):
        threads.setdefault(pid, []).append(cid)
    return ids, threads


def message_rows(organization, topics, n_messages, rng, ids, threads):
    """Rows for every message: FOCUS_MESSAGES for the focus patient (about
    half in conversations), the rest spread over the other patients. Runs
    no query (it is consumed inside COPY)."""
    from consent.vocabulary import LAWFUL_BASIS

    focus = ids[0]
    for n in range(n_messages):
        patient_id = focus if n < FOCUS_MESSAGES else rng.choice(ids[1:] or ids)
        own = threads.get(patient_id)
        conversation = rng.choice(own) if own and rng.random() < 0.5 else None
        topic = topics[n % 7 == 0]
        inbound = conversation is not None and rng.random() < 0.2
        created = EPOCH + datetime.timedelta(seconds=n * 7 + rng.randrange(5))
        yield (
            uuid.uuid4(),
            organization.pk,
            patient_id,
            topic.pk,
            conversation,
            "patient" if inbound else "staff",
            "",
            "in" if inbound else "out",
            "",
            "confidential" if n % 3 == 0 else "public",
            "fr",
            f"Subject {n}",
            f"Body of message {n}. " * 8,
            "{}",
            json.dumps(
                {
                    "purpose": topic.purpose,
                    "lawful_basis": LAWFUL_BASIS[topic.purpose],
                    "consent_event_id": None,
                }
            ),
            False,
            "",
            code(n),
            created,
            None if inbound or rng.random() < 0.3 else created,
        )


COLUMNS = (
    "public_id",
    "organization_id",
    "patient_id",
    "topic_id",
    "conversation_id",
    "origin",
    "origin_ref",
    "direction",
    "idempotency_key",
    "sensitivity",
    "language",
    "subject",
    "body",
    "context",
    "why",
    "free_text",
    "content_hash",
    "authenticity_code",
    "created_at",
    "read_at",
)


def copy_text(value) -> str:
    """One value in COPY's text format (the generated values never hold a
    tab, newline or backslash)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def build_messages(vendor, organization, topics, n_messages, rng) -> None:
    from django.db import connection

    from messaging.models import Message

    ids, threads = conversations_build(organization)
    rows = message_rows(organization, topics, n_messages, rng, ids, threads)
    if vendor != "postgresql":
        Message.objects.bulk_create(
            (
                Message(
                    **dict(
                        zip(COLUMNS, row, strict=True),
                        context={},
                        why=json.loads(row[14]),
                    )
                )
                for row in rows
            ),
            batch_size=500,
        )
        return
    with connection.cursor() as cursor:
        raw = cursor.connection.cursor()
        statement = f"COPY messaging_message ({', '.join(COLUMNS)}) FROM STDIN"
        with raw.copy(statement) as copy:
            # Pre-formatted text lines: psycopg's per-value adaptation
            # (write_row) made the 2M rows Python-bound at ~9,000 rows/s.
            chunk: list[str] = []
            for row in rows:
                chunk.append("\t".join(copy_text(value) for value in row))
                if len(chunk) == 10_000:
                    copy.write("\n".join(chunk) + "\n")
                    chunk = []
            if chunk:
                copy.write("\n".join(chunk) + "\n")
        raw.close()
        cursor.execute("ANALYZE")


def signed_in_client(user):
    """A browser signed in as ``user``, second factor passed (the portal
    requires one when django-otp is installed)."""
    from django.apps import apps
    from django.test import Client

    client = Client()
    client.force_login(user)
    if apps.is_installed("django_otp"):
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_static.models import StaticDevice

        device = StaticDevice.objects.create(user=user, name="bench", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def measure(client, url: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        with Timer() as timer:
            response = client.get(url, secure=True)
        if response.status_code != 200:
            raise SystemExit(
                f"{url}: {response.status_code} {response.get('Location')}"
            )
        times.append(timer.seconds * 1000)
    return times


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url, secure=True)
    return len(queries)


def p95(times: list[float]) -> float:
    return round(statistics.quantiles(times, n=20)[-1], 2)


def main() -> None:
    args = parse_args(__doc__)
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    setup_django()
    from django.test import override_settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    n_patients = max(50, int(PATIENTS * args.scale))
    n_messages = max(FOCUS_MESSAGES * 2, int(MESSAGES * args.scale))
    static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    with bench_database("inbox") as vendor, override_settings(STORAGES=static):
        from messaging.models import Message

        rng = random.Random(42)
        with Timer() as building:
            organization, topics, user = build_patients(n_patients)
            build_messages(vendor, organization, topics, n_messages, rng)
        if Message.objects.count() != n_messages:
            raise SystemExit(f"expected {n_messages} messages")
        log(
            f"built {n_patients} patients, {n_messages} messages "
            f"in {building.seconds:.1f} s on {vendor}"
        )
        client = signed_in_client(user)
        inbox_url = "/portal/inbox/"
        focus = list(
            Message.objects.filter(patient__user=user, direction="out")
            .order_by("-created_at")
            .values_list("public_id", flat=True)[: REQUESTS + 2]
        )
        measure(client, inbox_url, 5)  # warm up templates and connections
        inbox_times = measure(client, inbox_url, REQUESTS)
        inbox_queries = queries_of(client, inbox_url)
        # Each opening is a different message: unread ones get marked read,
        # as when the patient goes through the inbox.
        message_times = [
            measure(client, f"/portal/inbox/{public_id}/", 1)[0]
            for public_id in focus[2:]
        ]
        message_queries = queries_of(client, f"/portal/inbox/{focus[0]}/")
        emit(
            {
                "patients": n_patients,
                "messages": n_messages,
                "inbox_p50_ms": round(statistics.median(inbox_times), 2),
                "inbox_p95_ms": p95(inbox_times),
                "message_p95_ms": p95(message_times),
                "inbox_queries": inbox_queries,
                "message_queries": message_queries,
                "vendor": vendor,
            }
        )


if __name__ == "__main__":
    main()
