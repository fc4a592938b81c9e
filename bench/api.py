"""The partner API under load: requests per second and p95 latency of three
endpoints, beside the ceiling of a bare Django JSON view on the same server.

The production server (gunicorn, 2 sync workers, DEBUG off, persistent
database connections, Redis for the cache and the per-key throttle) serves a
throw-away PostgreSQL database with 10,000 patients and 10 messages each;
`wrk` drives it on loopback, 20 s per endpoint at 32 connections:

- ``GET /bench/ceiling``: a bare JSON view behind the same middleware (only
  the bench's URL conf, bench/apiserver/, has it); beside it, logged only,
  ``GET /bench/one-query``, the same view with one indexed query;
- ``GET /api/v1/patients/{id}/``, the ids rotating;
- ``GET /api/v1/messages/?patient={id}``;
- ``POST /api/v1/messages/`` (a template on a care topic), each request with
  its own Idempotency-Key.

Prints one JSON line: ceiling_rps, patient_read_rps, patient_read_p95_ms,
messages_list_rps, messages_list_p95_ms, message_send_rps,
message_send_p95_ms, errors (answers other than 2xx/3xx plus socket errors,
over every measured run).
Run: DATABASE_URL=postgres://… .venv/bin/python bench/api.py [--scale 0.01]
[--runs 3] (REDIS_URL defaults to redis://127.0.0.1:6379/0, with a key
prefix of its own). Needs wrk (``apt-get install -y wrk``).
"""

import argparse
import datetime
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness import ROOT, Timer, bench_database, emit, log, setup_django

PATIENTS = 10_000
MESSAGES_PER_PATIENT = 10
SECONDS = 20
CONNECTIONS = 32
WORKERS = 2
TOPIC = "appointment-reminder"
FIXED = {"ceiling": "/bench/ceiling", "one-query": "/bench/one-query"}
MODES = ("ceiling", "one-query", "patient", "messages", "send")
LOAD_SCRIPT = Path(__file__).resolve().parent / "apiserver" / "load.lua"
AT = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = the size the issue names"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="runs per endpoint; the median is kept"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help="diagnosis only: more gunicorn workers show whether requests wait "
        "on round trips (latency) or on the CPU",
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="diagnosis only: synchronous_commit off in the bench database, to "
        "see what waiting for the disk at each commit costs",
    )
    return parser.parse_args()


def build(n_patients: int, rng: random.Random):
    """An organization, a care topic with its templates, patients with email
    and phone, and MESSAGES_PER_PATIENT messages each with their deliveries."""
    from clinic.models import Organization, Patient
    from consent.models import Topic
    from messaging.models import Delivery, Message, Template

    organization = Organization.objects.create(
        name="Bench",
        slug="bench",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    topic = Topic.objects.create(
        organization=organization,
        slug=TOPIC,
        name_en="Appointment reminder",
        name_fr="Rappel de rendez-vous",
        purpose="care",
        channels=["inapp", "email", "sms"],
    )
    for language, text in (("fr", "Rendez-vous le"), ("en", "Appointment on")):
        for channel in ("inapp", "email", "sms"):
            Template.objects.create(
                topic=topic,
                channel=channel,
                language=language,
                subject=text if channel == "email" else "",
                body=f"{{{{ patient_first_name }}}}, {text} {{{{ appointment_date }}}}.",
            )
    Patient.objects.bulk_create(
        (
            Patient(
                organization=organization,
                identifier=f"B{n:07d}",
                given_name=f"Given{n}",
                family_name=f"Family{n}",
                birth_date=datetime.date(1950 + n % 50, 1, 1),
                preferred_language="en" if rng.random() < 0.2 else "fr",
                time_zone="Europe/Paris",
                email=f"p{n}@example.org",
                phone=f"+3361{n:07d}",
                phone_is_mobile=True,
            )
            for n in range(n_patients)
        ),
        batch_size=5000,
    )
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 1000):
        messages = Message.objects.bulk_create(
            Message(
                organization=organization,
                patient_id=pid,
                topic=topic,
                origin="api",
                direction="out",
                sensitivity="public",
                language="fr",
                body=f"Given, Rendez-vous le {n + 1} mars.",
                created_at=AT - datetime.timedelta(days=n, minutes=pid % 600),
            )
            for pid in ids[start : start + 1000]
            for n in range(MESSAGES_PER_PATIENT)
        )
        Delivery.objects.bulk_create(
            Delivery(
                message=message,
                channel=channel,
                status=status,
                sent_at=message.created_at,
                delivered_at=message.created_at if status == "delivered" else None,
            )
            for message in messages
            for channel, status in (("inapp", "sent"), ("sms", "delivered"))
        )
    return organization


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(name: str) -> str:
    """DATABASE_URL with the bench database's name in place of its own."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{name}"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def server_start(port: int, database: str, tmp: Path, workers: int) -> subprocess.Popen:
    """gunicorn as deployed: 2 sync workers, production settings from the
    environment, plus the bench's URL conf (the ceiling view)."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.apiserver.settings",
        DATABASE_URL=database_url(database),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Its own keys in a shared Redis: throttle counters start at zero.
        CACHE_KEY_PREFIX=f"bench-api-{os.getpid()}",
        CONN_MAX_AGE="60",
        DEBUG="false",
        SECRET_KEY="bench-only-" + "x" * 50,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(  # noqa: S603
        [
            str(gunicorn),
            "config.wsgi:application",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp / "gunicorn.out").open("w"),
        stderr=subprocess.STDOUT,
    )


def fetch(url: str, token: str = "", body: dict | None = None) -> tuple[int, bytes]:
    headers = {"X-Forwarded-Proto": "https"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = f"check-{time.time_ns()}"
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def server_wait(base: str, server: subprocess.Popen, tmp: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                "gunicorn stopped:\n" + (tmp / "gunicorn.out").read_text()[-3000:]
            )
        try:
            if fetch(base + "/bench/ceiling")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def check(base: str, token: str, patient: str) -> None:
    """One request of each kind answers 2xx, or the bench stops and says why."""
    for what, url, body in (
        ("ceiling", f"{base}/bench/ceiling", None),
        ("one-query", f"{base}/bench/one-query", None),
        ("patient", f"{base}/api/v1/patients/{patient}/", None),
        ("messages", f"{base}/api/v1/messages/?patient={patient}", None),
        (
            "send",
            f"{base}/api/v1/messages/",
            {
                "patient": patient,
                "topic": TOPIC,
                "context": {"appointment_date": "3 March"},
            },
        ),
    ):
        status, content = fetch(url, token, body)
        if not 200 <= status < 300:
            raise SystemExit(f"{what}: {status} {content[:500]!r}")


def wrk(
    base: str, mode: str, seconds: int, ids_file: Path, token: str, run: str
) -> dict:
    """One wrk run; its figures (rps, p95_ms, errors)."""
    url = base + FIXED.get(mode, "/")
    completed = subprocess.run(  # noqa: S603
        [
            shutil.which("wrk") or "wrk",
            "--threads",
            "2",
            "--connections",
            str(CONNECTIONS),
            "--duration",
            f"{seconds}s",
            "--timeout",
            "10s",
            "--script",
            str(LOAD_SCRIPT),
            url,
            "--",
            "fixed" if mode in FIXED else mode,
            str(ids_file),
            token,
            run,
            TOPIC,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(
        line for line in completed.stdout.splitlines() if line.startswith("WRK ")
    )
    figures = json.loads(line[4:])
    kinds = ("connect", "read", "write", "timeout", "status")
    failed = {k: figures[k] for k in kinds if figures[k]}
    result = {
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": sum(failed.values()),
    }
    log(
        f"  {mode} run {run}: {result['rps']:.0f} req/s, p95 "
        f"{result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"errors {result['errors']} {failed or ''}"
    )
    return result


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/api.py needs wrk: apt-get install -y wrk")
    setup_django()
    n_patients = max(100, int(PATIENTS * args.scale))
    seconds = max(1, round(SECONDS * args.scale))
    with bench_database("api") as vendor, tempfile.TemporaryDirectory() as tmp_name:
        from django.db import connection

        from api.keys import api_key_create
        from api.scopes import Scope
        from clinic.models import Patient

        tmp = Path(tmp_name)
        with Timer() as building:
            organization = build(n_patients, random.Random(42))
        log(
            f"built {n_patients} patients, {n_patients * MESSAGES_PER_PATIENT} "
            f"messages in {building.seconds:.1f} s on {vendor}"
        )
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # High enough not to cap the bench; the throttle still counts each request.
        _key, token = api_key_create(
            organization=organization,
            name="Bench",
            scopes=[Scope.PATIENTS_READ, Scope.MESSAGES_READ, Scope.MESSAGES_SEND],
            rate_per_minute=10_000_000,
        )
        ids = [
            str(public_id)
            for public_id in Patient.objects.values_list("public_id", flat=True)
        ]
        random.Random(7).shuffle(ids)
        ids_file = tmp / "ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        database = connection.settings_dict["NAME"]
        if args.async_commit and vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f'ALTER DATABASE "{database}" SET synchronous_commit = off'
                )
        # The bench process's own connection must not hold locks meanwhile.
        connection.close()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = server_start(port, database, tmp, args.workers)
        try:
            server_wait(base, server, tmp)
            check(base, token, ids[0])
            warm_up = round(2 * args.scale)  # s; none for the smoke run
            for mode in MODES if warm_up else ():
                wrk(base, mode, warm_up, ids_file, token, f"{os.getpid()}-warm-up")
            results: dict[str, list[dict]] = {}
            for run in range(args.runs):
                for mode in MODES:
                    results.setdefault(mode, []).append(
                        wrk(
                            base, mode, seconds, ids_file, token, f"{os.getpid()}-{run}"
                        )
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)

    def median(mode: str, figure: str, digits: int) -> float:
        return round(statistics.median(r[figure] for r in results[mode]), digits)

    emit(
        {
            "ceiling_rps": median("ceiling", "rps", 0),
            "patient_read_rps": median("patient", "rps", 0),
            "patient_read_p95_ms": median("patient", "p95_ms", 1),
            "messages_list_rps": median("messages", "rps", 0),
            "messages_list_p95_ms": median("messages", "p95_ms", 1),
            "message_send_rps": median("send", "rps", 0),
            "message_send_p95_ms": median("send", "p95_ms", 1),
            "errors": sum(r["errors"] for runs in results.values() for r in runs),
        }
    )


if __name__ == "__main__":
    main()
