"""``/api/v1/appointments/``: what a booking system does, and the reminders
that follow each change."""

import datetime

import pytest
import time_machine

from api.scopes import Scope
from clinic.models import AccessAudit, Appointment
from outreach.reminders.models import Reminder
from tests.api.api_support import assert_problem
from tests.clinic.factories import (
    AppointmentFactory,
    PatientFactory,
    SiteFactory,
    StaffMemberFactory,
)
from tests.outreach.reminders_factories import (
    ReminderRuleFactory,
    reminder_topic,
    sms_patient,
)

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
NOW = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def site(organization):
    return SiteFactory(organization=organization)


@pytest.fixture
def appointment(patient, site):
    return AppointmentFactory(patient=patient, site=site, starts_at=NOW + 5 * DAY)


def new_appointment(patient, site, starts_at=NOW + 5 * DAY, **fields):
    return {
        "patient": str(patient.public_id),
        "site": str(site.public_id),
        "kind": "consultation",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + HOUR / 2).isoformat(),
        **fields,
    }


def url(appointment, tail=""):
    return f"{APPOINTMENTS}{appointment.public_id}/{tail}"


def reminders(appointment):
    return {
        r.offset: (r.status, r.due_at)
        for r in Reminder.objects.filter(appointment_id=appointment.pk)
    }


class TestReminders:
    """Reminders follow API writes, because the API calls the same services."""

    @pytest.fixture
    def rule(self, organization):
        return ReminderRuleFactory(
            organization=organization,
            topic=reminder_topic(organization),
            offsets="48h",
        )

    @pytest.fixture
    def patient(self, organization):
        return sms_patient(organization)

    def test_booking_plans_reminders(self, api, rule, patient, site):
        # when
        response = api.post_json(APPOINTMENTS, new_appointment(patient, site))
        # then
        assert response.status_code == 201, response.content
        appointment = Appointment.objects.get(public_id=response.json()["id"])
        assert reminders(appointment) == {"48h": ("pending", NOW + 3 * DAY)}

    def test_moving_moves_pending_reminders(self, api, rule, patient, site):
        created = api.post_json(APPOINTMENTS, new_appointment(patient, site)).json()
        appointment = Appointment.objects.get(public_id=created["id"])
        # when
        response = api.patch_json(
            url(appointment),
            {
                "starts_at": (NOW + 10 * DAY).isoformat(),
                "ends_at": (NOW + 10 * DAY + HOUR).isoformat(),
            },
        )
        # then
        assert response.status_code == 200, response.content
        assert reminders(appointment) == {"48h": ("pending", NOW + 8 * DAY)}

    def test_cancelling_cancels_pending_reminders(self, api, rule, patient, site):
        created = api.post_json(APPOINTMENTS, new_appointment(patient, site)).json()
        appointment = Appointment.objects.get(public_id=created["id"])
        # when
        response = api.post_json(url(appointment, "cancel/"), {"reason": "Away"})
        # then
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "cancelled"
        assert response.json()["cancellation_reason"] == "Away"
        assert reminders(appointment)["48h"][0] == "cancelled"

    def test_upsert_plans_then_moves_reminders(self, api, rule, patient, site):
        body = new_appointment(patient, site)
        first = api.put_json(f"{APPOINTMENTS}by-external-id/BK-1/", body)
        appointment = Appointment.objects.get(public_id=first.json()["id"])
        assert reminders(appointment) == {"48h": ("pending", NOW + 3 * DAY)}
        moved = new_appointment(patient, site, starts_at=NOW + 4 * DAY)
        api.put_json(f"{APPOINTMENTS}by-external-id/BK-1/", moved)
        assert reminders(appointment) == {"48h": ("pending", NOW + 2 * DAY)}


def test_create_answers_the_appointment(api, organization, patient, site):
    practitioner = StaffMemberFactory(organization=organization)
    body = new_appointment(
        patient, site, practitioner=str(practitioner.public_id), external_id="BK-9"
    )
    response = api.post_json(APPOINTMENTS, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "booked"
    assert data["patient"] == str(patient.public_id)
    assert data["practitioner"] == str(practitioner.public_id)
    assert data["external_id"] == "BK-9"
    assert Appointment.objects.get().organization == organization


def test_other_organizations_site_patient_and_practitioner_are_field_errors(
    api, other_organization, patient, site
):
    # given
    body = new_appointment(
        PatientFactory(organization=other_organization),
        SiteFactory(organization=other_organization),
        practitioner=str(StaffMemberFactory(organization=other_organization).public_id),
    )
    # when
    response = api.post_json(APPOINTMENTS, body)
    # then
    problem = assert_problem(response, 400)
    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {"#/patient", "#/site", "#/practitioner"}
    assert not Appointment.objects.exists()


def test_times_need_an_offset_and_an_end_after_the_start(api, patient, site):
    naive = new_appointment(patient, site, starts_at=NOW.replace(tzinfo=None) + DAY)
    problem = assert_problem(api.post_json(APPOINTMENTS, naive), 400)
    assert {e["pointer"] for e in problem["errors"]} == {"#/starts_at", "#/ends_at"}
    inverted = new_appointment(patient, site, ends_at=NOW.isoformat())
    assert_problem(api.post_json(APPOINTMENTS, inverted), 400)
    assert not Appointment.objects.exists()


def test_patch_changes_site_but_never_the_patient(
    api, organization, appointment, patient
):
    other_site = SiteFactory(organization=organization)
    response = api.patch_json(url(appointment), {"site": str(other_site.public_id)})
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.site == other_site
    someone = PatientFactory(organization=organization)
    problem = assert_problem(
        api.patch_json(url(appointment), {"patient": str(someone.public_id)}), 400
    )
    assert problem["errors"][0]["pointer"] == "#/patient"
    appointment.refresh_from_db()
    assert appointment.patient == patient


def test_cancel_twice_or_past_is_409(api, appointment, patient, site):
    assert api.post_json(url(appointment, "cancel/"), {}).status_code == 200
    assert_problem(api.post_json(url(appointment, "cancel/"), {}), 409)
    past = AppointmentFactory(patient=patient, site=site, starts_at=NOW - DAY)
    assert_problem(api.post_json(url(past, "cancel/"), {}), 409)
    past.refresh_from_db()
    assert past.status == "booked"


def test_confirm_then_confirm_again_is_409(api, appointment):
    response = api.post_json(url(appointment, "confirm/"), {})
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    assert_problem(api.post_json(url(appointment, "confirm/"), {}), 409)


def test_upsert_creates_then_updates_within_the_organization(
    api, other_organization, patient, site
):
    stranger = AppointmentFactory(
        patient=PatientFactory(organization=other_organization), external_id="BK-1"
    )
    target = f"{APPOINTMENTS}by-external-id/BK-1/"
    created = api.put_json(target, new_appointment(patient, site))
    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "BK-1"
    updated = api.put_json(target, new_appointment(patient, site, kind="vaccination"))
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["kind"] == "vaccination"
    stranger.refresh_from_db()
    assert stranger.kind == "consultation"


def test_list_filters_and_audits(api, organization, patient, site):
    # given
    mine = AppointmentFactory(patient=patient, site=site)
    AppointmentFactory(patient=patient, site=site, status="cancelled")
    other = AppointmentFactory(
        patient=PatientFactory(organization=organization), site=site
    )
    Appointment.objects.filter(pk=other.pk).update(updated_at=NOW - 10 * DAY)
    # when
    by_patient = api.get(
        APPOINTMENTS, {"patient": str(patient.public_id), "status": "booked"}
    )
    since = api.get(APPOINTMENTS, {"updated_since": (NOW - DAY).isoformat()})
    # then
    assert [r["id"] for r in by_patient.json()["results"]] == [str(mine.public_id)]
    assert str(other.public_id) not in {r["id"] for r in since.json()["results"]}
    assert AccessAudit.objects.filter(
        patient=patient, detail="API: appointment list", actor_label="API key EHR sync"
    ).exists()


@pytest.mark.parametrize(
    "query",
    [
        {"patient": "nope"},
        {"status": "lost"},
        {"updated_since": "soon"},
        {"updated_since": "2026-01-01T12:99:00Z"},
    ],
)
def test_list_refuses_bad_filters(api, query):
    assert_problem(api.get(APPOINTMENTS, query), 400)


def test_list_filter_on_another_organizations_patient_is_400(api, other_organization):
    stranger = PatientFactory(organization=other_organization)
    problem = assert_problem(
        api.get(APPOINTMENTS, {"patient": str(stranger.public_id)}), 400
    )
    assert problem["errors"][0]["pointer"] == "#/patient"


def test_read_audits_and_other_organization_is_404(
    api, appointment, patient, other_organization
):
    response = api.get(url(appointment))
    assert response.status_code == 200
    assert response.json()["id"] == str(appointment.public_id)
    assert AccessAudit.objects.filter(
        patient=patient, detail="API: appointment"
    ).exists()
    stranger = AppointmentFactory(
        patient=PatientFactory(organization=other_organization)
    )
    assert_problem(api.get(url(stranger)), 404)
    assert_problem(api.patch_json(url(stranger), {"kind": "x"}), 404)
    assert_problem(api.post_json(url(stranger, "cancel/"), {}), 404)
    stranger.refresh_from_db()
    assert stranger.status == "booked"


def test_scopes(make_client, appointment, patient, site):
    reader, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert reader.get(url(appointment)).status_code == 200
    assert_problem(reader.post_json(url(appointment, "cancel/"), {}), 403)
    assert_problem(reader.post_json(APPOINTMENTS, new_appointment(patient, site)), 403)
    writer, _ = make_client(scopes=[Scope.APPOINTMENTS_WRITE])
    assert_problem(writer.get(APPOINTMENTS), 403)
    assert writer.post_json(url(appointment, "cancel/"), {}).status_code == 200


def test_cancel_replays_with_the_same_idempotency_key(api, appointment):
    headers = {"HTTP_IDEMPOTENCY_KEY": "cancel-1"}
    first = api.post_json(url(appointment, "cancel/"), {}, **headers)
    again = api.post_json(url(appointment, "cancel/"), {}, **headers)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"


def test_preparation_notes_are_written_and_read(api, patient, site):
    # given
    notes = "Bring your vaccination booklet."
    # when
    created = api.post_json(
        APPOINTMENTS, new_appointment(patient, site, preparation_notes=notes)
    )
    # then
    assert created.status_code == 201, created.content
    assert created.json()["preparation_notes"] == notes
    appointment = Appointment.objects.get()
    assert appointment.preparation_notes == notes
    changed = api.patch_json(url(appointment), {"preparation_notes": ""})
    assert changed.json()["preparation_notes"] == ""
    problem = assert_problem(
        api.patch_json(url(appointment), {"preparation_notes": "x" * 1001}), 400
    )
    assert {e["pointer"] for e in problem["errors"]} == {"#/preparation_notes"}


@pytest.mark.parametrize("wanted", ["lost", ""])
def test_list_refuses_an_unknown_or_empty_status(api, wanted):
    """An empty ``status`` is refused like an unknown one: ignoring it would
    answer every appointment to a filter that meant to ask for some."""
    problem = assert_problem(api.get(APPOINTMENTS, {"status": wanted}), 400)
    assert problem["errors"][0]["pointer"] == "#/status"
