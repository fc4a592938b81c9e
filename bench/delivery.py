"""Delivery throughput: Liaison's workers against the raw rate of the same sinks.

10,000 deliveries (half email, half SMS) on PostgreSQL, delivered by one
django-q2 cluster with two worker processes: email to a local aiosmtpd sink,
SMS to a local fake Sinch over HTTP. Beside each, the raw rate of the same sink
driven by a plain loop without Liaison (the physical limit here).

Prints one JSON line: deliveries, email_per_second, email_raw_per_second,
sms_per_second, sms_raw_per_second.
Run: DATABASE_URL=postgres://… .venv/bin/python bench/delivery.py [--scale 0.01]
"""

import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage

import httpx
from harness import ROOT, Timer, bench_database, emit, log, parse_args, setup_django

DELIVERIES = 10_000
BODY = "Rappel : votre rendez-vous est demain à 10:30 au site Lilas Belleville."


def start_smtp_sink(port: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        cwd=ROOT,
    )


def raw_email_rate(port: int, count: int) -> float:
    with Timer() as timer, smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            message = EmailMessage()
            message["From"], message["To"] = "clinic@example.org", f"p{n}@example.org"
            message["Subject"] = "Rappel"
            message.set_content(BODY)
            smtp.send_message(message)
    return count / timer.seconds


def raw_sms_rate(base_url: str, count: int) -> float:
    with Timer() as timer, httpx.Client(base_url=base_url) as client:
        for n in range(count):
            client.post(
                "/xms/v1/plan/batches",
                json={
                    "from": "+33700000000",
                    "to": [f"+3361{n:07d}"],
                    "body": BODY,
                    "client_reference": f"raw-{n}",
                },
                headers={"Authorization": "Bearer token"},
            ).raise_for_status()
    return count / timer.seconds


def liaison_rate(ids: list[int], env: dict, batch: int) -> float:
    from django_q.tasks import async_task

    from messaging.models import Delivery
    from tests.support.processes import Cluster

    cluster = Cluster(env)
    try:
        time.sleep(3)  # let the cluster start before the clock does
        with Timer() as timer:
            for start in range(0, len(ids), batch):
                async_task(
                    "messaging.tasks.deliveries_process",
                    ids[start : start + batch],
                    sync=False,
                )
            deadline = time.monotonic() + 600
            # An id range, not an IN list: the poll must not steal the cores it measures.
            planned = Delivery.objects.filter(pk__gte=min(ids), pk__lte=max(ids))
            while planned.filter(status="sent").count() < len(ids):
                if time.monotonic() > deadline:
                    raise SystemExit("deliveries did not finish within 10 minutes")
                time.sleep(0.25)
    finally:
        cluster.stop()
    return len(ids) / timer.seconds


def main() -> None:
    args = parse_args(__doc__)
    setup_django()
    per_channel = max(20, int(DELIVERIES * args.scale) // 2)
    batch = 200
    from tests.support.planned import planned_deliveries
    from tests.support.processes import FakeSinch, cluster_env, free_port, wait_for_port

    smtp_port = free_port()
    sink = start_smtp_sink(smtp_port)
    fake = FakeSinch()
    try:
        wait_for_port(smtp_port)
        email_raw = raw_email_rate(smtp_port, per_channel)
        sms_raw = raw_sms_rate(fake.base_url, per_channel)
        log(f"raw: email {email_raw:.0f}/s, sms {sms_raw:.0f}/s")
        with bench_database("delivery") as vendor:
            env = cluster_env(
                Q_WORKERS="2",
                MESSAGING_DELIVERY_BATCH=str(batch),
                EMAIL_CHANNEL_BACKEND="messaging.backends.email.Backend",
                EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=str(smtp_port),
                SMS_BACKEND="messaging.backends.sms.sinch.SmsBackend",
                SINCH_BASE_URL=fake.base_url,
                SINCH_SERVICE_PLAN_ID="plan",
                SINCH_API_TOKEN="token",  # noqa: S106 - the fake accepts any
                SINCH_WEBHOOK_SECRET="secret",  # noqa: S106
            )
            email_ids = planned_deliveries(
                channel="email", count=per_channel, body=BODY
            )
            sms_ids = planned_deliveries(channel="sms", count=per_channel, body=BODY)
            email_rate = liaison_rate(email_ids, env, batch)
            sms_rate = liaison_rate(sms_ids, env, batch)
            log(f"liaison on {vendor}: email {email_rate:.0f}/s, sms {sms_rate:.0f}/s")
    finally:
        sink.kill()
        fake.stop()
    emit(
        {
            "deliveries": per_channel * 2,
            "email_per_second": round(email_rate, 1),
            "email_raw_per_second": round(email_raw, 1),
            "sms_per_second": round(sms_rate, 1),
            "sms_raw_per_second": round(sms_raw, 1),
        }
    )


if __name__ == "__main__":
    main()
