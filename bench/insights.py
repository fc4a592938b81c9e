"""The KPI dashboard: server time of the whole page for one organization with
100,000 patients, 2,000,000 messages and 50,000 survey responses, 90 days.

The data (a year of activity before NOW) is written by the database itself
with ``INSERT … SELECT generate_series`` (no row crosses from Python), so
PostgreSQL only. Times are measured through the Django test client (session,
middleware, the admin page's template and every figure included): the first
request warms Django's caches and is not counted; the figure is the median of
three requests.

Prints one JSON line: patients, messages, responses, deliveries,
conversations, appointments, dashboard_ms, dashboard_runs_ms, queries, vendor.
Run: DATABASE_URL=postgres://… .venv/bin/python bench/insights.py [--scale 0.01]
``--keep`` (local use): the data stays in the database insights_bench_kept and
the next run with ``--keep`` reuses it (migrated), to time queries in psql.
"""

import contextlib
import datetime
import os
import statistics
import sys

from harness import Timer, bench_database, emit, log, parse_args, setup_django

PATIENTS = 100_000
MESSAGES = 2_000_000
RESPONSES = 50_000
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
RUNS = 3


def build(n_patients: int, n_messages: int, n_responses: int) -> dict[str, int]:
    from django.db import connection

    from clinic.models import Organization, Site
    from consent.models import Topic
    from feedback.models import Question, Survey
    from outreach.reminders.models import ReminderRule

    organization = Organization.objects.create(
        name="Bench",
        slug="bench",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    sites = [
        Site.objects.create(organization=organization, name=name)
        for name in ("Nord", "Sud")
    ]
    topics = {
        slug: Topic.objects.create(
            organization=organization,
            slug=slug,
            name_en=slug,
            name_fr=slug,
            purpose=purpose,
            channels=["inapp", "email", "sms", "voice"],
        )
        for slug, purpose in (
            ("results", "care"),
            ("reminders", "care"),
            ("flu", "marketing"),
            ("survey", "feedback"),
        )
    }
    survey = Survey.objects.create(
        organization=organization,
        name="After a visit",
        title_fr="Votre avis",
        title_en="Your opinion",
        topic=topics["survey"],
    )
    nps = Question.objects.create(
        survey=survey, kind="nps", text_fr="NPS", text_en="NPS"
    )
    csat = Question.objects.create(
        survey=survey, kind="csat", text_fr="CSAT", text_en="CSAT"
    )
    rule = ReminderRule.objects.create(
        organization=organization, name="48h", offsets="48h", topic=topics["reminders"]
    )
    n_appointments = max(20, n_patients * 2)
    n_conversations = max(20, n_patients * 2 // 5)
    n_invitations = n_responses * 8 // 5
    p = {
        "org": organization.pk,
        "site_a": sites[0].pk,
        "site_b": sites[1].pk,
        "now": NOW,
        "patients": n_patients,
        "messages": n_messages,
        "appointments": n_appointments,
        "conversations": n_conversations,
        "invitations": n_invitations,
        "survey": survey.pk,
        "nps": nps.pk,
        "csat": csat.pk,
        "rule": rule.pk,
        "results": topics["results"].pk,
        "reminders": topics["reminders"].pk,
        "flu": topics["flu"].pk,
    }
    # Spread over the year before NOW: row i of n happens at NOW − (1 − i/n) year.
    statements = [
        # 30% of patients have a portal account; a third of those signed in
        # during the last 90 days.
        """INSERT INTO auth_user (password, last_login, is_superuser, username,
               first_name, last_name, email, is_staff, is_active, date_joined)
           SELECT '!', %(now)s - make_interval(days => ((i * 7) %% 270)::int),
                  false, 'bench-' || i, '', '', '', false, true, %(now)s
           FROM generate_series(1, %(patients)s * 3 / 10) i""",
        # 5% registered within the last year (not eligible for attrition).
        """INSERT INTO clinic_patient (public_id, organization_id, identifier,
               given_name, family_name, birth_date, preferred_language, time_zone,
               email, phone, phone_is_mobile, user_id, erased_at, created_at,
               updated_at)
           SELECT gen_random_uuid(), %(org)s, 'B' || lpad(i::text, 7, '0'),
                  'Bench', 'Patient' || i, DATE '1980-01-01', 'fr', 'Europe/Paris',
                  '', '', true, u.id, NULL,
                  %(now)s - make_interval(days => CASE WHEN i %% 20 = 0
                                          THEN 100 ELSE 800 END),
                  %(now)s
           FROM generate_series(1, %(patients)s) i
           LEFT JOIN auth_user u ON u.username = 'bench-' || i""",
        # Messages: 95% to patients, 5% from them (from half the patients);
        # 40% of outbound read, by 70% of patients.
        """INSERT INTO messaging_message (public_id, organization_id, patient_id,
               topic_id, origin, origin_ref, direction, idempotency_key,
               sensitivity, language, subject, body, context, why, free_text,
               content_hash, authenticity_code, created_at, read_at)
           SELECT gen_random_uuid(), %(org)s, %(p0)s + g.pn - 1,
                  CASE i %% 10 WHEN 0 THEN %(flu)s WHEN 1 THEN %(reminders)s
                       WHEN 2 THEN %(reminders)s ELSE %(results)s END,
                  CASE WHEN inbound THEN 'patient' ELSE 'system' END, '',
                  CASE WHEN inbound THEN 'in' ELSE 'out' END, '', 'public', 'fr',
                  '', 'Bench message', '{}', '{}', false, '',
                  'B' || lpad(to_hex(i), 7, '0'), at,
                  CASE WHEN NOT inbound AND pn %% 10 < 7 AND i %% 7 < 4
                       THEN at + interval '3 hours' END
           FROM (
             SELECT i, 1 + (i::bigint * 7919) %% %(patients)s AS pn,
                    i %% 20 = 0 AND ((i::bigint * 7919) %% %(patients)s) %% 2 = 0 AS inbound,
                    %(now)s - interval '365 days' * (1 - i::float8 / %(messages)s) AS at
             FROM generate_series(1, %(messages)s) i
           ) g""",
        # One delivery per outbound message (sms, email, inbox, voice), and an
        # inbox copy for every tenth.
        """INSERT INTO messaging_delivery (message_id, channel, address,
               to_address_being_verified, status, reason, subject, body, body_html,
               provider, provider_id, error_code, attempts, next_attempt_at,
               sent_at, delivered_at, read_at, created_at, updated_at,
               organization_id, message_created_at)
           SELECT m.id, c.channel, '', false,
                  CASE WHEN m.read_at IS NOT NULL AND c.channel IN ('inapp', 'email')
                       THEN 'read'
                       WHEN m.id %% 20 = 0 THEN 'suppressed'
                       WHEN m.id %% 20 = 1 THEN 'failed'
                       WHEN m.id %% 10 = 2 THEN 'sent'
                       ELSE 'delivered' END,
                  '', '', '', '', '', '', '', 1, m.created_at,
                  m.created_at, m.created_at, m.read_at, m.created_at, m.created_at,
                  m.organization_id, m.created_at
           FROM messaging_message m
           CROSS JOIN LATERAL (
             SELECT CASE m.id %% 10 WHEN 0 THEN 'voice' WHEN 1 THEN 'inapp'
                    WHEN 2 THEN 'inapp' WHEN 3 THEN 'email' WHEN 4 THEN 'email'
                    WHEN 5 THEN 'email' ELSE 'sms' END AS channel
             UNION ALL SELECT 'inapp' WHERE m.id %% 10 = 7
           ) c
           WHERE m.direction = 'out'""",
        """INSERT INTO messaging_conversation (public_id, organization_id, patient_id,
               subject, status, kind, site_id, channel, last_message_at,
               first_response_due_at, first_response_at, staff_reply_count,
               reopened_count, closed_at, created_at)
           SELECT gen_random_uuid(), %(org)s, %(p0)s + g.pn - 1, '',
                  CASE WHEN i %% 10 < 7 THEN 'closed' ELSE 'open' END,
                  CASE WHEN i %% 10 = 9 THEN 'complaint' ELSE 'question' END,
                  CASE WHEN i %% 2 = 0 THEN %(site_a)s ELSE %(site_b)s END,
                  'sms', at, at + interval '24 hours',
                  CASE WHEN i %% 10 < 9 THEN at + make_interval(mins => ((i::bigint * 37) %% 4000)::int) END,
                  CASE WHEN i %% 10 < 9 THEN 1 + (i %% 4 = 0)::int ELSE 0 END,
                  (i %% 11 = 0)::int,
                  CASE WHEN i %% 10 < 7 THEN at + interval '2 days' END, at
           FROM (SELECT i, %(now)s - interval '365 days' * (1 - i::float8 / %(conversations)s) AS at,
                        1 + (i::bigint * 104729) %% %(patients)s AS pn
                 FROM generate_series(1, %(conversations)s) i) g""",
        """INSERT INTO clinic_appointment (public_id, organization_id, patient_id,
               site_id, kind, starts_at, ends_at, status, cancellation_reason,
               external_id, preparation_notes, created_at, updated_at)
           SELECT gen_random_uuid(), %(org)s, %(p0)s + g.pn - 1,
                  CASE WHEN i %% 2 = 0 THEN %(site_a)s ELSE %(site_b)s END,
                  'consultation', at, at + interval '30 minutes',
                  CASE WHEN i %% 100 < 6 THEN 'noshow' WHEN i %% 100 < 14 THEN 'cancelled'
                       WHEN i %% 100 < 20 THEN 'confirmed' WHEN i %% 100 < 24 THEN 'booked'
                       ELSE 'fulfilled' END,
                  '', '', '', at - interval '20 days', at
           FROM (SELECT i, %(now)s - interval '365 days' * (1 - i::float8 / %(appointments)s) AS at,
                        1 + (i::bigint * 15485863) %% %(patients)s AS pn
                 FROM generate_series(1, %(appointments)s) i) g
           WHERE g.pn %% 10 < 8""",
        # A reminder sent for 70% of appointments.
        """INSERT INTO outreach_reminder (appointment_id, rule_id, "offset", due_at,
               status, reason, sent_at, created_at, updated_at)
           SELECT a.id, %(rule)s, '48h', a.starts_at - interval '48 hours',
                  CASE WHEN a.id %% 10 < 7 THEN 'sent' ELSE 'skipped' END, '',
                  a.starts_at - interval '48 hours', a.created_at, a.created_at
           FROM clinic_appointment a WHERE a.organization_id = %(org)s""",
        """INSERT INTO feedback_surveyinvitation (public_id, organization_id,
               survey_id, patient_id, trigger_ref, site_id, created_at, expires_at,
               answered_at)
           SELECT gen_random_uuid(), %(org)s, %(survey)s, %(p0)s + g.pn - 1, '',
                  CASE WHEN i %% 2 = 0 THEN %(site_a)s ELSE %(site_b)s END,
                  at, at + interval '14 days',
                  CASE WHEN i %% 8 < 5 THEN at + interval '1 day' END
           FROM (SELECT i, %(now)s - interval '365 days' * (1 - i::float8 / %(invitations)s) AS at,
                        1 + (i::bigint * 7907) %% %(patients)s AS pn
                 FROM generate_series(1, %(invitations)s) i) g""",
        """INSERT INTO feedback_surveyresponse (public_id, organization_id, survey_id,
               patient_id, invitation_id, submitted_at, complete, updated_at)
           SELECT gen_random_uuid(), %(org)s, %(survey)s, v.patient_id, v.id,
                  v.answered_at, true, v.answered_at
           FROM feedback_surveyinvitation v WHERE v.answered_at IS NOT NULL""",
        """INSERT INTO feedback_answer (response_id, question_id, score, choices, text)
           SELECT r.id, q.id,
                  CASE WHEN q.id = %(nps)s THEN (r.id * 7) %% 11 ELSE 1 + (r.id * 3) %% 5 END,
                  '[]', ''
           FROM feedback_surveyresponse r
           CROSS JOIN (VALUES (%(nps)s), (%(csat)s)) q(id)""",
        # Withdrawals: topic-level from the portal, purpose-level SMS STOPs.
        """INSERT INTO consent_consentevent (public_id, patient_id, purpose, topic_id,
               channel, action, source, actor_label, wording_version, evidence,
               user_agent, occurred_at)
           SELECT gen_random_uuid(), %(p0)s + i - 1,
                  CASE WHEN i %% 3 = 0 THEN 'marketing' ELSE '' END,
                  CASE WHEN i %% 3 = 0 THEN NULL ELSE %(flu)s END,
                  CASE WHEN i %% 3 = 0 THEN 'sms' ELSE '' END, 'withdrawn',
                  CASE WHEN i %% 3 = 0 THEN 'sms-keyword' ELSE 'portal' END,
                  '', '', '{}', '',
                  %(now)s - interval '365 days' * (1 - i::float8 / (%(patients)s / 20))
           FROM generate_series(1, %(patients)s / 20) i""",
    ]
    with connection.cursor() as cursor:
        # Bench data only: the rows are consistent by construction, so the
        # foreign-key triggers (three per message row) are not run.
        cursor.execute("SET session_replication_role = replica")
        for statement in statements:
            with Timer() as timer:
                cursor.execute(statement, p)
            name = statement.split("(")[0].strip()
            log(f"  {cursor.rowcount:>9} rows in {timer.seconds:5.1f} s: {name}")
            if "INTO clinic_patient" in statement:
                # Patients' ids are consecutive: row n of a table is patient p0 + n − 1.
                cursor.execute(
                    "SELECT min(id) FROM clinic_patient WHERE organization_id = %s",
                    [organization.pk],
                )
                p["p0"] = cursor.fetchone()[0]

        cursor.execute("SET session_replication_role = DEFAULT")
        # The role above also kept the per-day count triggers from firing:
        # count what was loaded, as migration insights 0003 does for the rows
        # already there (in production the triggers keep them as rows come).
        with Timer() as timer:
            cursor.execute("SELECT insights_day_counts_rebuild()")
        log(f"  per-day counts in {timer.seconds:5.1f} s")
        # What autovacuum does to these tables in production (the insert
        # threshold): statistics, and the visibility map that lets the
        # dashboard's covering indexes answer without visiting the table.
        cursor.execute("VACUUM ANALYZE")
        # The gigabyte just written is flushed now, not by a checkpoint that
        # would fall in the middle of the timed requests (a production
        # database does not load 2,000,000 messages a minute before a page).
        cursor.execute("CHECKPOINT")
    return {"organization_id": organization.pk}


def signed_in_client(user):
    """Admin with the second factor passed (django-otp), as a staff member has it."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    from django.test import Client

    client = Client()
    client.force_login(user)
    device = StaticDevice.objects.create(user=user, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@contextlib.contextmanager
def kept_database(name: str):
    """``--keep`` (local use): build into ``name`` once and leave it there, so
    the queries can be timed with EXPLAIN in psql; a second run reuses it."""
    from django.db import connection

    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
    if exists:
        from django.core.management import call_command

        connection.close()
        connection.settings_dict["NAME"] = name
        call_command("migrate", verbosity=0)  # new migrations since the build
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    yield connection.vendor, exists


def main() -> None:
    keep = "--keep" in sys.argv
    if keep:
        sys.argv.remove("--keep")
    args = parse_args(__doc__)
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    setup_django()
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    n_patients = max(200, int(PATIENTS * args.scale))
    n_messages = max(2000, int(MESSAGES * args.scale))
    n_responses = max(100, int(RESPONSES * args.scale))
    static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    database = (
        kept_database("insights_bench_kept") if keep else bench_database("insights")
    )
    with database as opened, override_settings(STORAGES=static):
        vendor, reused = opened if keep else (opened, False)
        if vendor != "postgresql":
            raise SystemExit("bench/insights.py needs PostgreSQL (DATABASE_URL).")
        from django.contrib.auth import get_user_model
        from django.db import connection

        from clinic.models import Appointment, Organization, Patient, StaffMember
        from conversations.models import Conversation
        from feedback.models import SurveyResponse
        from messaging.models import Delivery, Message

        with Timer() as building:
            if reused:
                from insights import day_counts

                built = {"organization_id": Organization.objects.get(slug="bench").pk}
                get_user_model().objects.filter(username="bench-admin").delete()
                if day_counts.differences():  # kept from before the counts
                    day_counts.rebuild()
            else:
                built = build(n_patients, n_messages, n_responses)
        counts = {
            "patients": Patient.objects.count(),
            "messages": Message.objects.count(),
            "responses": SurveyResponse.objects.count(),
        }
        log(f"built {counts} in {building.seconds:.1f} s on {vendor}")
        user = get_user_model().objects.create(username="bench-admin", is_staff=True)
        StaffMember.objects.create(
            user=user, organization_id=built["organization_id"], role="admin"
        )
        client = signed_in_client(user)
        # The default period: the 90 days up to NOW (NOW − 90 days … NOW).
        end = (NOW - datetime.timedelta(days=1)).date()
        query = {"start": str(end - datetime.timedelta(days=89)), "end": str(end)}
        url = "/admin/insights/dashboard/"
        first = client.get(url, query, secure=True)  # warms Django's caches
        if first.status_code != 200:
            raise SystemExit(f"{url}: {first.status_code}")
        times = []
        for _ in range(RUNS):
            with Timer() as timer:
                response = client.get(url, query, secure=True)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code}")
            times.append(round(timer.seconds * 1000, 1))
        with CaptureQueriesContext(connection) as queries:
            client.get(url, query, secure=True)
        captured = queries.captured_queries
        total = sum(float(q["time"]) for q in captured) * 1000
        log(f"  {len(captured)} queries, {total:.0f} ms in the database")
        slowest = sorted(captured, key=lambda q: -float(q["time"]))[:8]
        for q in slowest:
            log(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:150]}")
        emit(
            {
                **counts,
                "deliveries": Delivery.objects.count(),
                "conversations": Conversation.objects.count(),
                "appointments": Appointment.objects.count(),
                "dashboard_ms": statistics.median(times),
                "dashboard_runs_ms": times,
                "queries": len(queries.captured_queries),
                "vendor": vendor,
            }
        )


if __name__ == "__main__":
    main()
