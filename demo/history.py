"""Ninety days of demo history, made by the product's own services.

``seed_demo`` sets each demo clinic up on the first day of the story (its
clock moved there) and then plays the ninety days up to now, event by event,
with the clock moved to each moment (time-machine, ``tick=False``), so every
row is written by the code that writes it in production and dated by it:

- appointments are booked (``appointment_create``), and the reminder rules
  plan their reminders (``appointment_changed``);
- the scheduler's finders (``core.scheduler``) run at every moment a
  reminder falls due and after each visit (survey invitations two hours
  after), and the worker's task (``deliveries_process``) sends what is due
  after every event, deferred copies included;
- providers report SMS and email delivered (a few SMS fail, and fall back) as
  their status webhooks would (``delivery_status_update``);
- patients answer reminders by SMS ("C", "A": ``inbound_sms_receive``, the
  provider webhook's service) or by the one-tap link (``appointment_confirm``),
  come or miss their visit (``appointment_save``, as staff record it), answer
  surveys (``response_submit``; an unhappy answer opens a follow-up), read
  their messages (``message_mark_read``), text questions and STOP;
- staff answer conversations (``conversation_reply``) and close them.

Nothing of the past reaches a real provider: during the history every
external channel uses the development outbox backend, whatever is configured.
The per-day counts PostgreSQL keeps for the dashboard are written by its
triggers as the rows are, so they agree with the rows.

Deterministic (one random generator per clinic, seeded by its slug) and
written once: a clinic that has history appointments is left alone.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import logging
import random
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.db.models import Min
from django.test.utils import override_settings

from clinic.appointments.actions import (
    AppointmentActionError,
    appointment_can,
    appointment_cancel,
    appointment_confirm,
)
from clinic.models import Appointment, AppointmentStatus, Caregiver, Organization
from clinic.services import appointment_create, appointment_save
from demo import history_script as script

logger = logging.getLogger(__name__)

HISTORY_PREFIX = "DEMO-H-"
# The first day of the story starts at 07:00 UTC: 08:00 in Paris, 02:00 in
# New York, inside the dashboard's ninety days in both zones.
STORY_HOUR_UTC = 7
_OUTBOX = {"BACKEND": "messaging.backends.outbox.Backend"}
_EXTERNAL = ("email", "sms", "voice")


def story_start(today: datetime.date) -> datetime.datetime:
    """When the demo clinics start using Liaison: the first of the ninety days."""
    day = today - datetime.timedelta(days=script.DAYS - 1)
    return datetime.datetime.combine(
        day, datetime.time(STORY_HOUR_UTC), tzinfo=datetime.UTC
    )


def records_imported(today: datetime.date) -> datetime.datetime:
    """When the demo clinics' patient records were imported: over a year ago."""
    return story_start(today) - datetime.timedelta(
        days=script.RECORDS_DAYS - script.DAYS
    )


@contextmanager
def story_clock(at: datetime.datetime) -> Iterator:
    """The process's clock stopped at ``at`` (every ``timezone.now()``, every
    ``default=timezone.now``, ``time.time()``); the traveller moves it on.
    ``time.monotonic()`` is not moved: leases and timeouts keep real time."""
    import time_machine  # only the demo moves the clock

    with time_machine.travel(at, tick=False) as traveller:
        yield traveller


def history_written(organization: Organization) -> bool:
    return (
        Appointment.objects.for_organization(organization)
        .filter(external_id__startswith=HISTORY_PREFIX)
        .exists()
    )


def seed(*, report, today: datetime.date, until: datetime.datetime) -> None:
    """Play the history of every demo clinic that has none yet, up to ``until``."""
    from clinic.demo_data import ORGANIZATIONS

    organizations = [
        o
        for o in Organization.objects.filter(
            slug__in=[spec.slug for spec in ORGANIZATIONS]
        ).order_by("slug")
        if not history_written(o)
    ]
    if not organizations:
        return
    start = story_start(today)
    backends = dict.fromkeys(_EXTERNAL, _OUTBOX)
    with (
        override_settings(MESSAGING_BACKENDS={**_configured_backends(), **backends}),
        story_clock(start) as traveller,
        _after_commit_dropped(),
    ):
        history = History(traveller, organizations, start=start, end=until)
        for organization in organizations:
            history.plan(organization, today)
        history.run()
    for label, n in history.counts.items():
        report.created[label] = report.created.get(label, 0) + n


@contextmanager
def _after_commit_dropped() -> Iterator[None]:
    """Forget what the history asks to run after commit: the delivery tasks
    its sends queue (it plays the worker itself, so they would find nothing
    to send), live notices to open pages and webhooks about the past. The
    test suite never runs them either, so the history is the same there.
    Outside a transaction nothing waits for a commit: nothing to forget."""
    connection = transaction.get_connection()
    before = len(connection.run_on_commit)
    try:
        yield
    finally:
        if connection.in_atomic_block:
            del connection.run_on_commit[before:]


def _configured_backends() -> dict:
    from django.conf import settings

    return dict(settings.MESSAGING_BACKENDS)


class History:
    """The events of the story in time order, and the clock that plays them."""

    def __init__(self, traveller, organizations, *, start, end) -> None:
        self.traveller = traveller
        self.organizations = organizations
        self.start, self.end, self.now = start, end, start
        self._events: list = []
        self._order = itertools.count()
        self.counts: dict[str, int] = {}
        # Per clinic, its random generator; per patient, who reads their inbox.
        self.rngs: dict[int, random.Random] = {}
        self.readers: dict[int, list] = {}

    # --- The clock -------------------------------------------------------------------

    def at(self, moment: datetime.datetime, action: Callable[[], None]) -> None:
        """Do ``action`` at ``moment``, if that moment is not after the end."""
        moment = max(moment, self.start)
        if moment <= self.end:
            heapq.heappush(self._events, (moment, next(self._order), action))

    def _move(self, moment: datetime.datetime) -> None:
        if moment > self.now:
            self.traveller.move_to(moment)
            self.now = moment

    def run(self) -> None:
        while self._events:
            moment, _order, action = heapq.heappop(self._events)
            self._due_until(moment)
            self._move(moment)
            action()
            self._work()
        self._due_until(self.end)

    def _due_until(self, until: datetime.datetime) -> None:
        """Run the scheduler and the worker at each moment something falls due
        (a reminder, a deferred or retried delivery) up to ``until``."""
        from messaging.models import Delivery
        from outreach.reminders.models import Reminder, ReminderStatus
        from outreach.reminders.planner import reminders_send_due

        for _step in range(10_000):
            reminder = (
                Reminder.objects.filter(
                    status=ReminderStatus.PENDING,
                    appointment__organization__in=self.organizations,
                )
                .aggregate(at=Min("due_at"))
                .get("at")
            )
            waiting = (
                Delivery.objects.filter(
                    organization__in=self.organizations,
                    status__in=[Delivery.Status.DEFERRED, Delivery.Status.QUEUED],
                    next_attempt_at__gt=self.now,
                )
                .aggregate(at=Min("next_attempt_at"))
                .get("at")
            )
            moment = min(
                (m for m in (reminder, waiting) if m is not None), default=None
            )
            if moment is None or moment > until:
                return
            self._move(moment)
            if moment == reminder:
                self._tick(reminders_send_due)
            else:
                self._work()

    def _tick(self, finder: Callable[[datetime.datetime], int]) -> None:
        """One of the finders the scheduler runs every minute, each in its
        own schedule (``core.scheduler``): only the one with something due,
        since each costs queries at every tick. Then the worker."""
        finder(self.now)
        self._work()

    def _work(self) -> None:
        """The worker: send every delivery due now (``deliveries_process``),
        then what the providers report back."""
        from messaging.models import Delivery
        from messaging.services import deliveries_process

        for _round in range(5):
            ids = list(
                Delivery.objects.due(self.now)
                .filter(organization__in=self.organizations)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if not ids:
                return
            deliveries_process(ids)
            self._reported(ids)

    # --- Providers and patients react ---------------------------------------------------

    def _reported(self, ids: list[int]) -> None:
        """Status webhooks for what went out, then patients read some of it."""
        from messaging.models import Delivery
        from messaging.services import delivery_status_update

        sent = (
            Delivery.objects.filter(pk__in=ids, status__in=["sent", "delivered"])
            .select_related("message__patient__organization")
            .order_by("pk")
        )
        for delivery in sent:
            rng = self.rngs[delivery.organization_id]
            if delivery.channel in _EXTERNAL and delivery.status == "sent":
                failed = delivery.channel == "sms" and rng.random() < 0.04
                delivery_status_update(
                    provider=delivery.provider,
                    provider_id=delivery.provider_id,
                    status="failed" if failed else "delivered",
                    error_code="30006" if failed else "",
                )
                if failed:
                    continue
            self._maybe_read(delivery, rng)

    def _maybe_read(self, delivery, rng: random.Random) -> None:
        """Portal users read most inbox messages; a third of emails are opened
        (their link clicked)."""
        from messaging.services import message_mark_read

        patient = delivery.message.patient
        if delivery.channel == "inapp":
            readers = self.readers.get(patient.pk)
            if not readers or rng.random() > 0.85:
                return
            user = rng.choice(readers)
        elif delivery.channel == "email" and rng.random() < 0.33:
            user = None
        else:
            return
        message = delivery.message
        channel = delivery.channel

        def read() -> None:
            if user is not None:
                update_last_login(None, user)
            message.refresh_from_db()
            message_mark_read(message=message, channel=channel)

        self.at(self.now + datetime.timedelta(minutes=rng.randrange(5, 30 * 60)), read)

    # --- The story of one clinic ----------------------------------------------------------

    def plan(self, organization: Organization, today: datetime.date) -> None:
        from clinic.demo_data import ORGANIZATIONS

        spec = next(s for s in ORGANIZATIONS if s.slug == organization.slug)
        rng = random.Random(f"demo-history-{organization.slug}")  # noqa: S311 - demo data
        self.rngs[organization.pk] = rng
        zone = zoneinfo.ZoneInfo(organization.time_zone)
        patients = list(
            organization.patients.select_related("preferences").order_by("identifier")
        )
        for patient in patients:
            users = [patient.user] if patient.user_id else []
            users += [
                c.user
                for c in Caregiver.objects.filter(patient=patient, revoked_at=None)
            ]
            if users:
                self.readers[patient.pk] = users
        staff = get_user_model().objects.get(username=f"{spec.prefix}.support")
        number = str(spec.sender_number)
        clinic = _Clinic(self, organization, spec, rng, zone, patients, staff, number)
        self.at(self.start, clinic.prologue)
        clinic.plan_appointments(today)
        clinic.plan_future_answers()
        clinic.plan_conversations(today)
        clinic.plan_opt_outs(today)


class _Clinic:
    """The events of one clinic's story."""

    def __init__(self, history, organization, spec, rng, zone, patients, staff, number):
        self.history = history
        self.organization = organization
        self.spec = spec
        self.rng = rng
        self.zone = zone
        self.patients = patients
        self.staff = staff
        self.number = number
        self.sms_counter = itertools.count(1)
        self.counts = history.counts

    def count(self, label: str) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1

    def local(self, day: datetime.date, hour: int, minute: int = 0):
        return datetime.datetime.combine(day, datetime.time(hour, minute), self.zone)

    def prologue(self) -> None:
        """Half the patients ask for their reminders by SMS first (the portal's
        preferences); the follow-ups opened by the demo's first answers are taken."""
        from consent.services import preferences_update

        for index, patient in enumerate(self.patients):
            if index % 2 == 0:
                preferences_update(
                    patient=patient,
                    channel_order={
                        "appointment-reminders": ["sms", "inapp", "email", "voice"]
                    },
                )
        self.history.at(
            self.history.now + datetime.timedelta(hours=3), self.answer_open_follow_ups
        )

    # --- Appointments ---------------------------------------------------------------

    def plan_appointments(self, today: datetime.date) -> None:
        from clinic.models import StaffMember

        sites = list(self.organization.sites.order_by("name"))
        clinician = StaffMember.objects.get(
            user__username=f"{self.spec.prefix}.clinician"
        )
        first = self.history.start.date() + datetime.timedelta(days=1)
        # The portal's demo patient and the demo caregiver's child come
        # first: their inboxes tell the story too.
        chosen = [self.patients[0], self.patients[1], self.patients[0]]
        for number in range(1, script.APPOINTMENTS + 1):
            patient = self.rng.choice(self.patients)
            if number <= len(chosen):
                patient = chosen[number - 1]
            # The last three are today's; the others on weekdays before.
            if number > script.APPOINTMENTS - 3:
                day = today
            else:
                day = script.weekday_between(
                    self.rng, first, today - datetime.timedelta(days=1)
                )
            starts_at = script.opening_hours(self.rng, day, self.zone)
            walk_in = self.rng.random() < script.WALK_IN_SHARE
            lead = (
                datetime.timedelta(minutes=self.rng.choice((45, 60, 90)))
                if walk_in
                else datetime.timedelta(days=self.rng.choice((1, 3, 4, 6, 9, 12, 20)))
            )
            kind = self.rng.choice(self.spec.kinds)
            fields = {
                "site": self.rng.choice(sites),
                "practitioner": clinician,
                "kind": kind,
                "preparation_notes": dict(self.spec.preparation).get(kind, ""),
                "starts_at": starts_at,
                "ends_at": starts_at + datetime.timedelta(minutes=30),
                "external_id": f"{HISTORY_PREFIX}{patient.identifier}-{number}",
            }
            intent = script.intent_draw(self.rng)
            if day == today:
                intent.answer = "confirm"  # today's visits were confirmed
            delay = self.rng.randrange(20, 6 * 60)
            self.history.at(
                starts_at - lead,
                lambda p=patient, f=fields, i=intent, d=delay: self.book(p, f, i, d),
            )

    def book(self, patient, fields: dict, intent, delay: int) -> None:
        appointment = appointment_create(patient=patient, **fields)
        self.count("history appointments")
        starts_at = appointment.starts_at
        # The patient answers a while after the reminder two days before, or
        # after the first reminder when booked later than that.
        reminded = max(self.history.now, starts_at - datetime.timedelta(hours=48))
        if intent.answer:
            answer_at = reminded + datetime.timedelta(minutes=delay)
            if answer_at < starts_at - datetime.timedelta(minutes=30):
                self.history.at(
                    answer_at, lambda: self.answer_reminder(appointment, intent.answer)
                )
        self.history.at(
            starts_at + datetime.timedelta(minutes=40),
            lambda: self.visit_recorded(appointment, intent),
        )

    def answer_reminder(self, appointment, action: str) -> None:
        """By SMS when the reminder came by SMS (the reply handler acts on it),
        else with the one-tap link of the reminder."""
        from outreach.reminders.answers import answerable_reminder

        appointment.refresh_from_db()
        if not appointment_can(appointment=appointment, action=action):
            return
        patient = appointment.patient
        phone = patient.phone.as_e164 if patient.phone else ""
        reminder = phone and answerable_reminder(
            patient_id=patient.pk, from_number=phone, now=self.history.now
        )
        if reminder and reminder.appointment_id == appointment.pk:
            words = script.CONFIRM_WORDS if action == "confirm" else script.CANCEL_WORDS
            self.sms_from(patient, self.rng.choice(words))
        elif appointment.reminders.filter(status="sent").exists():
            try:
                if action == "confirm":
                    appointment_confirm(appointment=appointment)
                else:
                    appointment_cancel(appointment=appointment)
            except AppointmentActionError:
                return
        else:
            return
        self.count(f"reminders answered ({action})")

    def visit_recorded(self, appointment, intent) -> None:
        """Staff record at the end of the visit whether the patient came."""
        appointment.refresh_from_db()
        if not intent.recorded or appointment.status not in (
            AppointmentStatus.BOOKED,
            AppointmentStatus.CONFIRMED,
        ):
            return
        appointment.status = (
            AppointmentStatus.FULFILLED if intent.attends else AppointmentStatus.NO_SHOW
        )
        appointment_save(appointment=appointment)
        if appointment.status == AppointmentStatus.FULFILLED:
            # The survey trigger waits two hours after the visit's end.
            survey_due = appointment.ends_at + datetime.timedelta(hours=2, minutes=1)
            self.history.at(survey_due, lambda: self.survey_sent(appointment, intent))

    def plan_future_answers(self) -> None:
        """Patients answer the reminders already sent for the appointments to
        come (the ones ``demo.seed`` books)."""
        upcoming = (
            Appointment.objects.for_organization(self.organization)
            .filter(external_id__startswith="DEMO-")
            .exclude(external_id__startswith=HISTORY_PREFIX)
            .order_by("starts_at", "pk")
        )
        for appointment in upcoming:
            intent = script.intent_draw(self.rng)
            delay = datetime.timedelta(minutes=self.rng.randrange(30, 20 * 60))
            if intent.answer == "confirm":
                self.history.at(
                    appointment.starts_at - datetime.timedelta(days=7) + delay,
                    lambda a=appointment: self.answer_reminder(a, "confirm"),
                )

    # --- Surveys ----------------------------------------------------------------------

    def survey_sent(self, appointment, intent) -> None:
        from feedback.models import SurveyInvitation
        from feedback.triggers import surveys_invite_due

        self.history._tick(surveys_invite_due)  # the survey trigger invites now
        invitation = (
            SurveyInvitation.objects.filter(
                patient=appointment.patient, trigger_ref=f"appointment:{appointment.pk}"
            )
            .select_related("message")
            .first()
        )
        if invitation is None or not intent.answers_survey:
            return
        reached = invitation.message and invitation.message.deliveries.filter(
            status__in=["sent", "delivered", "read"]
        )
        if not reached:
            return
        minutes = self.rng.randrange(40, 28 * 60)
        unhappy = self.rng.random() < 0.12
        self.history.at(
            self.history.now + datetime.timedelta(minutes=minutes),
            lambda: self.survey_answered(invitation, unhappy),
        )

    def survey_answered(self, invitation, unhappy: bool) -> None:
        from feedback.services import response_submit

        questions = {q.kind: q for q in invitation.survey.questions.all()}
        language = invitation.patient.preferred_language
        nps = (
            self.rng.choice((2, 4, 5))
            if unhappy
            else self.rng.choice(script.NPS_SCORES)
        )
        csat = (
            self.rng.choice((1, 2)) if unhappy else self.rng.choice(script.CSAT_SCORES)
        )
        comment = (
            script.SURVEY_UNHAPPY
            if unhappy
            else self.rng.choice(script.SURVEY_COMMENTS)
        )
        answers = {}
        for kind, value in (
            ("nps", nps),
            ("csat", csat),
            ("multiple", [] if unhappy else [self.rng.choice(script.LIKED)]),
            ("text", script.said(comment, language)),
        ):
            if kind in questions:
                answers[questions[kind].pk] = value
        response = response_submit(invitation=invitation, answers=answers)
        self.count("survey responses")
        if response.follow_up_id:
            self.history.at(
                self.next_desk_moment(self.rng.randrange(60, 20 * 60)),
                lambda: self.staff_reply(
                    response.follow_up, script.FOLLOW_UP_REPLY, close=True
                ),
            )

    def answer_open_follow_ups(self) -> None:
        from conversations.models import Conversation

        for conversation in Conversation.objects.for_organization(
            self.organization
        ).filter(kind=Conversation.Kind.FOLLOW_UP, status=Conversation.Status.OPEN):
            self.staff_reply(conversation, script.FOLLOW_UP_REPLY, close=True)

    # --- Conversations and opt-outs -----------------------------------------------------

    def texting_patients(self) -> list:
        """Patients who can text the clinic: a mobile, and SMS not refused
        (the demo's every seventh patient said STOP before the story)."""
        return [
            p
            for i, p in enumerate(self.patients)
            if p.phone and i % 7 != 0 and i not in (4, 5)
        ]

    def plan_conversations(self, today: datetime.date) -> None:
        first = self.history.start.date() + datetime.timedelta(days=1)
        patients = self.texting_patients()
        for number in range(script.CONVERSATIONS):
            patient = self.rng.choice(patients)
            day = script.weekday_between(self.rng, first, today)
            asked_at = script.opening_hours(self.rng, day, self.zone)
            question, reply = self.rng.choice(script.QUESTIONS)
            how = ("closed", "closed", "closed", "thanks", "two replies")[number % 5]
            wait = self.rng.randrange(8, 5 * 60)
            self.history.at(
                asked_at,
                lambda p=patient, q=question, r=reply, h=how, w=wait: self.ask(
                    p, q, r, h, w
                ),
            )

    def ask(self, patient, question, reply, how: str, wait: int) -> None:
        conversation = self.sms_from(
            patient, script.said(question, patient.preferred_language)
        )
        if conversation is None:
            return
        self.count("conversations")
        answer_at = self.history.now + datetime.timedelta(minutes=wait)

        def answered() -> None:
            self.staff_reply(conversation, reply, close=how != "two replies")
            if how == "closed":
                return
            # The patient writes back the next day: the conversation reopens.
            back = self.history.now + datetime.timedelta(
                hours=self.rng.randrange(14, 30)
            )
            self.history.at(back, lambda: self.thanked(patient, conversation, how))

        self.history.at(answer_at, answered)

    def thanked(self, patient, conversation, how: str) -> None:
        from conversations.services import conversation_status_set

        self.sms_from(patient, script.said(script.THANKS, patient.preferred_language))
        later = self.next_desk_moment(self.rng.randrange(10, 120))
        if how == "two replies":
            reply = ("Avec plaisir, à bientôt.", "You are welcome, see you soon.")
            self.history.at(
                later, lambda: self.staff_reply(conversation, reply, close=True)
            )
        else:
            self.history.at(
                later,
                lambda: conversation_status_set(
                    conversation=conversation, status="closed", by=self.staff
                ),
            )

    def plan_opt_outs(self, today: datetime.date) -> None:
        """Two patients who get their reminders by SMS text STOP one day."""
        patients = [p for i, p in enumerate(self.patients) if i % 2 == 0 and i % 7 != 0]
        first = self.history.start.date() + datetime.timedelta(days=20)
        for patient in self.rng.sample(patients, 2):
            day = script.weekday_between(self.rng, first, today)
            moment = script.opening_hours(self.rng, day, self.zone)
            self.history.at(moment, lambda p=patient: self.stop(p))

    def stop(self, patient) -> None:
        self.sms_from(patient, "STOP")
        self.count("SMS STOP")

    # --- Helpers --------------------------------------------------------------------------

    def sms_from(self, patient, text: str):
        """An SMS from the patient's phone to the clinic's number, as the
        provider's webhook hands it over; returns the conversation it joined."""
        from messaging.inbound import inbound_sms_receive
        from messaging.models import Message

        provider_id = f"demo-history-{self.organization.slug}-{next(self.sms_counter)}"
        inbound_sms_receive(
            provider="twilio",
            to_number=self.number,
            from_number=patient.phone.as_e164,
            text=text,
            provider_message_id=provider_id,
        )
        message = (
            Message.objects.filter(patient=patient, direction="in")
            .select_related("conversation")
            .order_by("-created_at", "-pk")
            .first()
        )
        if message is None or message.created_at != self.history.now:
            return None
        return message.conversation

    def staff_reply(self, conversation, texts, *, close: bool) -> None:
        from conversations.services import conversation_reply

        conversation.refresh_from_db()
        language = conversation.patient.preferred_language
        conversation_reply(
            conversation=conversation,
            staff_user=self.staff,
            text=script.said(texts, language),
            close=close,
        )
        self.count("staff replies")

    def next_desk_moment(self, minutes: int) -> datetime.datetime:
        """``minutes`` from now, moved to the next opening hour (09:00) when
        it falls in the evening or the night."""
        moment = (self.history.now + datetime.timedelta(minutes=minutes)).astimezone(
            self.zone
        )
        if moment.hour >= 18:
            moment = self.local(moment.date() + datetime.timedelta(days=1), 9)
        elif moment.hour < 9:
            moment = self.local(moment.date(), 9)
        return moment
