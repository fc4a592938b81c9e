"""seed_demo's ninety days of history: the dashboard shows real figures, each
drawn from rows the pipeline wrote (issue 19, "The first run")."""

import datetime
import zoneinfo

import pytest
import time_machine

from django.core.management import call_command
from django.db.models import Exists, OuterRef
from django.utils import timezone

from clinic.models import Appointment, AppointmentStatus, Organization
from demo.history import HISTORY_PREFIX
from insights import day_counts, kpis
from insights.forms import DEFAULT_DAYS
from messaging.models import Message
from outreach.reminders.models import Reminder

pytestmark = pytest.mark.django_db

# A Monday afternoon: in both clinics' zones today's visits are under way.
NOW = datetime.datetime(2026, 12, 7, 15, 0, tzinfo=datetime.UTC)


def _scope(organization: Organization) -> kpis.Scope:
    """The dashboard's default period: the last ninety days, today included."""
    zone = zoneinfo.ZoneInfo(organization.time_zone)
    today = timezone.localdate(timezone=zone)
    first = today - datetime.timedelta(days=DEFAULT_DAYS - 1)
    return kpis.Scope(
        organization=organization,
        start=datetime.datetime.combine(first, datetime.time(), tzinfo=zone),
        end=datetime.datetime.combine(
            today + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
        ),
    )


@time_machine.travel(NOW, tick=False)
def test_dashboard_shows_the_history_in_figures_its_rows_agree_with(settings):
    # given
    settings.DEBUG = True
    # when
    call_command("seed_demo")
    # then
    assert day_counts.differences() == []  # PostgreSQL's kept counts agree
    for organization in Organization.objects.all():
        scope = _scope(organization)
        board = kpis.dashboard(scope)
        for figure in board.figures:
            if figure.unit == "percent" and figure.value is not None:
                assert 0 <= figure.value <= 100, figure.key
        value = {f.key: f.value for f in board.figures}
        assert value["frt_median"] > datetime.timedelta(0)
        for key in (
            "fcr",
            "csat_share",
            "nps",
            "survey_response_rate",
            "delivery_rate.inapp",
            "delivery_rate.email",
            "delivery_rate.sms",
            "read_rate.email",
            "messages_read",
            "confirmation_rate.with",
            "no_show_rate.with",
            "active_users",
            "attrition",
        ):
            assert value[key], (organization.slug, key)
        opt_outs = [f for f in board.by_family("opt_out") if f.numerator]
        assert opt_outs, organization.slug
        # The figures are the rows: confirmed and missed visits with a reminder.
        in_period = Appointment.objects.for_organization(organization).filter(
            starts_at__gte=scope.start,
            starts_at__lt=scope.end,
            external_id__startswith=HISTORY_PREFIX,
        )
        reminded = in_period.filter(
            Exists(Reminder.objects.filter(appointment=OuterRef("pk"), status="sent"))
        )
        confirmed = board.get("confirmation_rate.with")
        assert (
            confirmed.numerator
            == reminded.filter(status=AppointmentStatus.CONFIRMED).count()
        )
        missed = board.get("no_show_rate.with")
        assert (
            missed.numerator
            == reminded.filter(status=AppointmentStatus.NO_SHOW).count()
        )
        read = Message.objects.for_organization(organization).filter(
            direction=Message.Direction.OUTBOUND,
            created_at__gte=scope.start,
            created_at__lt=scope.end,
            read_at__isnull=False,
        )
        assert board.get("messages_read").numerator == read.count()


@time_machine.travel(NOW, tick=False)
def test_history_is_dated_by_the_pipeline_and_ends_now(settings):
    # given
    settings.DEBUG = True
    # when
    call_command("seed_demo")
    # then
    messages = Message.objects.all()
    assert messages.count() > 300
    first = min(messages.values_list("created_at", flat=True))
    assert NOW - datetime.timedelta(days=DEFAULT_DAYS) < first
    assert first < NOW - datetime.timedelta(days=DEFAULT_DAYS - 2)
    assert not messages.filter(created_at__gt=NOW).exists()
    assert not Appointment.objects.filter(
        starts_at__gt=NOW, status__in=[AppointmentStatus.FULFILLED, "noshow"]
    ).exists()
