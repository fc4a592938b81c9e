"""Each figure on a small hand-built data set, its expected value worked out by
hand in the comment beside it (not by the same query), and its rows."""

import datetime

import pytest

from clinic.models import AppointmentStatus
from insights import kpis
from insights.kpis import (
    appointments,
    deliveries,
    engagement,
    opt_outs,
    response_time,
    surveys,
)
from outreach.reminders.models import Reminder
from tests.clinic.factories import PatientFactory, SiteFactory
from tests.insights.builders import (
    BEFORE,
    END,
    IN_PERIOD,
    START,
    appointment,
    conversation,
    delivery,
    hours,
    invitation,
    message,
    portal_patient,
    registered,
    response,
    survey_with_questions,
    topic,
    withdrawal,
)
from tests.outreach.reminders_factories import ReminderRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(organization):
    return SiteFactory(organization=organization, name="Nord")


@pytest.fixture
def scope(organization):
    return kpis.Scope(organization=organization, start=START, end=END)


def _figures(figures):
    return {f.key: f for f in figures}


def test_response_time_median_and_p90(organization, other_organization, site, scope):
    """Median and p90 over the conversations opened in the period and answered."""
    # given: answered after 1, 2, 3, 4 and 10 hours
    patient = PatientFactory(organization=organization)
    for n in (1, 2, 3, 4, 10):
        conversation(patient, site=site, first_response_at=IN_PERIOD + hours(n))
    conversation(patient)  # not answered yet: not in the figures
    conversation(patient, created_at=BEFORE, first_response_at=BEFORE + hours(50))
    stranger = PatientFactory(organization=other_organization)
    conversation(stranger, first_response_at=IN_PERIOD + hours(99))
    # when
    figures = _figures(response_time.response_time_figures(scope))
    # then
    # sorted 1, 2, 3, 4, 10 h: the middle one is 3 h
    assert figures["frt_median"].value == hours(3)
    # p90 at rank (5 − 1) × 0.9 = 3.6: 4 h + 0.6 × (10 h − 4 h) = 7.6 h = 7 h 36 min
    assert figures["frt_p90"].value == hours(7.6)
    assert figures["frt_median"].denominator == 5
    assert figures["frt_median"].rows.count() == 5


def test_response_time_weekly_medians(organization, scope):
    """The weekly trend has the median of each week's conversations."""
    # given: week of 2 March (Monday): 1 h and 3 h; week of 9 March: 5 h
    patient = PatientFactory(organization=organization)
    for day, n in ((3, 1), (4, 3), (10, 5)):
        opened = datetime.datetime(2026, 3, day, 12, tzinfo=datetime.UTC)
        conversation(patient, created_at=opened, first_response_at=opened + hours(n))
    # when
    weekly = response_time.response_time_stats(scope)["weekly"]
    # then: median of (1 h, 3 h) = 2 h; median of (5 h) = 5 h
    assert [(w.date().isoformat(), n, m) for w, n, m in weekly] == [
        ("2026-03-02", 2, hours(2)),
        ("2026-03-09", 1, hours(5)),
    ]


def test_response_time_with_a_site_counts_only_that_site(organization, site, scope):
    # given: 1 h at the site, 9 h elsewhere
    patient = PatientFactory(organization=organization)
    conversation(patient, site=site, first_response_at=IN_PERIOD + hours(1))
    conversation(patient, first_response_at=IN_PERIOD + hours(9))
    # when
    at_site = kpis.Scope(organization=organization, start=START, end=END, site=site)
    figures = _figures(response_time.response_time_figures(at_site))
    # then
    assert figures["frt_median"].value == hours(1)
    assert figures["frt_median"].denominator == 1


def test_first_contact_resolution(organization, scope):
    """Closed with exactly one staff reply and never reopened, out of closed
    conversations with at least one staff reply."""
    # given
    patient = PatientFactory(organization=organization)
    closed = {"status": "closed", "closed_at": IN_PERIOD + hours(5)}
    conversation(patient, staff_reply_count=1, **closed)  # resolved
    conversation(patient, staff_reply_count=2, **closed)  # two replies
    conversation(patient, staff_reply_count=1, reopened_count=1, **closed)  # reopened
    conversation(patient, staff_reply_count=0, **closed)  # no reply: left out
    conversation(  # reopened and open again: left out
        patient, status="open", staff_reply_count=1, closed_at=IN_PERIOD
    )
    conversation(  # closed before the period: left out
        patient, status="closed", staff_reply_count=1, closed_at=BEFORE
    )
    # when
    [figure] = response_time.first_contact_resolution(scope)
    # then: 1 resolved of 3 closed with a reply = 33.33 %
    assert (figure.numerator, figure.denominator) == (1, 3)
    assert figure.value == pytest.approx(100 / 3)
    rows = list(figure.rows.values("staff_reply_count", "reopened_count"))
    assert len(rows) == 3
    assert sum(figure.counted(r) for r in rows) == 1


def test_csat_and_nps(organization, other_organization, scope):
    # given
    survey, _nps, _csat = survey_with_questions(organization)
    for score in (5, 4, 3, 1, 5):
        response(survey, csat=score)
    for score in (10, 9, 8, 6, 0, 7, 9):
        response(survey, nps=score)
    response(survey, submitted_at=BEFORE, csat=1, nps=0)  # before the period
    other, _n, _c = survey_with_questions(other_organization)
    response(other, csat=1, nps=0)  # another organization
    # when
    figures = _figures(surveys.survey_scores(scope))
    # then
    # CSAT 4–5: 5, 4, 5 = 3 of 5 = 60 %; mean (5+4+3+1+5)/5 = 18/5 = 3.6
    assert figures["csat_share"].value == pytest.approx(60.0)
    assert figures["csat_mean"].value == pytest.approx(3.6)
    # NPS: promoters 10, 9, 9 = 3; detractors 6, 0 = 2; (3 − 2)/7 = 14.29
    assert figures["nps"].value == pytest.approx(100 / 7)
    assert figures["nps"].denominator == 7
    assert figures["nps"].rows.count() == 7
    assert "3 promoters, 2 detractors" in figures["nps"].detail


def test_survey_response_rate(organization, scope):
    # given: 4 invitations in the period, 1 answered; one earlier answered
    survey, _nps, _csat = survey_with_questions(organization)
    patient = PatientFactory(organization=organization)
    invitation(survey, patient, answered_at=IN_PERIOD + hours(2))
    for _ in range(3):
        invitation(survey, patient)
    invitation(survey, patient, created_at=BEFORE, answered_at=BEFORE + hours(1))
    # when
    [figure] = surveys.survey_response_rate(scope)
    # then: 1 / 4 = 25 %
    assert (figure.numerator, figure.denominator, figure.value) == (1, 4, 25.0)


def test_delivery_and_read_rates_per_channel(organization, other_organization, scope):
    # given
    patient = PatientFactory(organization=organization)
    care = topic(organization, "results")
    for status in ("sent", "delivered", "delivered", "failed", "suppressed", "queued"):
        delivery(message(patient, care), "sms", status)
    for status in ("read", "read", "delivered"):
        delivery(message(patient, care), "inapp", status)
    delivery(message(patient, care, created_at=BEFORE), "sms", "failed")
    stranger = PatientFactory(organization=other_organization)
    delivery(message(stranger, topic(other_organization, "x")), "sms", "failed")
    # when
    figures = _figures(deliveries.delivery_and_read_rates(scope))
    # then
    # SMS handed over: sent, delivered, delivered, failed = 4; delivered 2 → 50 %
    sms = figures["delivery_rate.sms"]
    assert (sms.numerator, sms.denominator, sms.value) == (2, 4, 50.0)
    # inbox: read, read, delivered all delivered: 3/3 = 100 %; read 2/3 = 66.67 %
    assert figures["delivery_rate.inapp"].value == 100.0
    assert figures["read_rate.inapp"].value == pytest.approx(200 / 3)
    # nothing by email or voice: no figure, not a division by zero
    assert figures["delivery_rate.email"].value is None
    assert figures["read_rate.voice"].value is None
    assert sms.rows.count() == 4
    rows = list(sms.rows.values("status"))
    assert sum(sms.counted(r) for r in rows) == 2


def test_messages_read_and_opt_outs(organization, scope):
    # given: 4 flu (marketing) messages, 6 care messages; 4 of 10 read
    patient = PatientFactory(organization=organization)
    other = PatientFactory(organization=organization)
    flu = topic(organization, "flu", purpose="marketing")
    care = topic(organization, "results")
    for n in range(4):
        message(patient if n else other, flu, read_at=IN_PERIOD if n == 0 else None)
    for n in range(6):
        message(patient, care, read_at=IN_PERIOD if n < 3 else None)
    message(patient, care, direction="in")  # from the patient: not counted
    withdrawal(patient, topic=flu)
    withdrawal(patient, topic=flu, occurred_at=BEFORE)  # before the period
    withdrawal(patient, purpose="marketing", channel="sms")  # an SMS STOP
    # when
    by_topic = deliveries.messages_by_topic(scope)
    [read] = deliveries.messages_read(scope, by_topic)
    opt = _figures(opt_outs.opt_outs(scope))
    # then
    # read: 1 flu + 3 care = 4 of 10 = 40 %
    assert (read.numerator, read.denominator, read.value) == (4, 10, 40.0)
    # flu: 1 of the 2 patients sent a flu message withdrew from flu = 50 %
    flu_figure = opt[f"opt_out.topic.{flu.pk}"]
    assert (flu_figure.numerator, flu_figure.denominator) == (1, 2)
    # care: none of the 1 patient sent a care message withdrew from care
    assert opt[f"opt_out.topic.{care.pk}"].value == 0.0
    # marketing as a whole: 1 STOP of the 2 patients sent marketing = 50 %
    assert opt["opt_out.purpose.marketing"].value == 50.0
    # the rows are the denominator's patients; the counted ones the numerator
    rows = list(flu_figure.rows.values("pk", "opted_out"))
    assert {r["pk"] for r in rows} == {patient.pk, other.pk}
    assert [r["pk"] for r in rows if flu_figure.counted(r)] == [patient.pk]


def test_opt_outs_count_only_patients_sent_the_topic(organization, scope):
    """Today's "250,0 % (5 sur 2)" and "1 sur 0": withdrawals of patients who
    were not sent the topic in the period, and repeated withdrawals, counted
    against the messages sent."""
    # given: 2 flu messages to one patient, who withdraws twice
    flu = topic(organization, "flu", purpose="marketing")
    unsent = topic(organization, "newsletter", purpose="marketing")
    messaged = PatientFactory(organization=organization)
    for _ in range(2):
        message(messaged, flu)
    withdrawal(messaged, topic=flu)
    withdrawal(messaged, topic=flu, occurred_at=IN_PERIOD + hours(1))
    # three patients sent nothing in the period withdraw from flu too
    for _ in range(3):
        stranger = PatientFactory(organization=organization)
        message(stranger, flu, created_at=BEFORE)
        withdrawal(stranger, topic=flu)
    # and one withdraws from a topic no one was sent in the period
    withdrawal(PatientFactory(organization=organization), topic=unsent)
    # when
    opt = _figures(opt_outs.opt_outs(scope))
    # then: 1 of 1 patient, not 5 withdrawals of 2 messages
    flu_figure = opt[f"opt_out.topic.{flu.pk}"]
    assert (flu_figure.numerator, flu_figure.denominator) == (1, 1)
    assert flu_figure.value == 100.0
    # no figure for a topic with no patient to count ("1 of 0")
    assert f"opt_out.topic.{unsent.pk}" not in opt


def test_a_rate_refuses_a_numerator_outside_its_denominator():
    assert kpis.Rate(3, 4).percent == 75.0
    assert kpis.Rate(0, 0).percent is None
    for numerator, denominator in ((5, 2), (1, 0), (-1, 3)):
        with pytest.raises(ValueError, match="numerator must count rows"):
            kpis.Rate(numerator, denominator)


def test_confirmation_and_no_show_with_and_without_reminders(organization, site, scope):
    # given
    patient = PatientFactory(organization=organization)
    rule = ReminderRuleFactory(organization=organization)
    s = AppointmentStatus

    def remind(appointment_, status):
        Reminder.objects.create(
            appointment=appointment_,
            rule=rule,
            offset="48h",
            due_at=appointment_.starts_at - hours(48),
            status=status,
        )

    for status in (s.CONFIRMED, s.BOOKED, s.NO_SHOW, s.FULFILLED, s.FULFILLED):
        remind(appointment(patient, site, status), "sent")
    # only a pending reminder: counts as "without"
    remind(appointment(patient, site, s.BOOKED), "pending")
    for status in (s.NO_SHOW, s.NO_SHOW, s.FULFILLED, s.CANCELLED):
        appointment(patient, site, status)
    appointment(patient, site, s.NO_SHOW, starts_at=BEFORE)  # before the period
    # when
    figures = _figures(appointments.appointment_rates(scope))
    # then
    # with: confirmed 1 of (confirmed + booked) 2 = 50 %; no-show 1 of 3 = 33.3 %
    assert figures["confirmation_rate.with"].value == 50.0
    assert figures["no_show_rate.with"].value == pytest.approx(100 / 3)
    # without: confirmed 0 of 1 booked = 0 %; no-show 2 of 3 = 66.7 %
    assert figures["confirmation_rate.without"].value == 0.0
    assert figures["no_show_rate.without"].value == pytest.approx(200 / 3)
    assert figures["no_show_rate.without"].rows.count() == 3


def test_active_portal_users(organization, scope):
    # given: 3 portal accounts, 1 signed in during the period; 1 patient without
    portal_patient(organization, last_login=IN_PERIOD)
    portal_patient(organization, last_login=BEFORE)
    portal_patient(organization)
    PatientFactory(organization=organization)
    # when
    [figure] = engagement.active_users(scope)
    # then: 1 of 3 = 33.3 %
    assert (figure.numerator, figure.denominator) == (1, 3)
    assert figure.rows.count() == 1


def test_attrition(organization, site):
    """Lapsed: registered before the window and no interaction in it."""
    # given: the window is the 365 days before 1 April 2026
    old = datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC)
    long_ago = datetime.datetime(2024, 12, 1, tzinfo=datetime.UTC)
    care = topic(organization, "results")
    survey, _nps, _csat = survey_with_questions(organization)

    def patient(**fields):
        return registered(PatientFactory(organization=organization, **fields), old)

    message(patient(), care, direction="in")  # wrote: active
    message(patient(), care, read_at=IN_PERIOD)  # read: active
    appointment(patient(), site, AppointmentStatus.FULFILLED)  # came: active
    response(survey, patient=patient(), csat=4)  # answered: active
    registered(portal_patient(organization, last_login=IN_PERIOD), old)  # signed in
    unread = patient()
    message(unread, care)  # received but never read: lapsed
    quiet = patient()
    message(quiet, care, direction="in", created_at=long_ago)  # before: lapsed
    PatientFactory(organization=organization)  # registered in the window: left out
    patient(erased_at=IN_PERIOD)  # erased: left out
    scope = kpis.Scope(organization=organization, start=START, end=END)
    # when
    [figure] = engagement.attrition(scope)
    # then: 2 lapsed (unread, quiet) of 7 registered before the window = 28.6 %
    assert (figure.numerator, figure.denominator) == (2, 7)
    assert figure.value == pytest.approx(200 / 7)
    assert set(figure.rows.values_list("pk", flat=True)) == {unread.pk, quiet.pk}


def test_no_data_gives_no_figure_and_no_error(organization, scope):
    # when
    board = kpis.dashboard(scope)
    # then
    assert board.figures
    for figure in board.figures:
        assert figure.value is None, figure.key
        assert figure.rows.count() == 0
