"""Appointments imported from CSV in admin: a preview first, row-level errors,
and all rows or none."""

import datetime
import re

import pytest

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from clinic import imports
from clinic.imports import (
    ImportChangedError,
    ImportRefusedError,
    appointments_import,
    appointments_import_plan,
)
from clinic.models import Appointment
from clinic.signals import appointment_changed
from tests.clinic.factories import (
    AppointmentFactory,
    PatientFactory,
    SiteFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
HEADER = "patient_identifier,site,starts_at,ends_at,kind,practitioner,external_id\n"
URL = "/admin/clinic/appointment/import/"


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are checked in English, whatever an earlier test activated."""
    with translation.override("en"):
        yield


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization, identifier="P-1")


@pytest.fixture
def site(organization):
    return SiteFactory(organization=organization, name="Belleville")


@pytest.fixture
def practitioner(organization):
    return StaffMemberFactory(
        organization=organization, user__username="dr.durand", role="clinician"
    )


def plan_of(organization, text, **kwargs):
    return appointments_import_plan(organization=organization, text=text, **kwargs)


def errors_of(plan):
    return [(e.line, e.column) for e in plan.errors]


# The file


def test_a_valid_file_plans_creations_in_local_and_offset_times(
    organization, patient, site, practitioner
):
    # given
    text = (
        HEADER
        + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,consultation,dr.durand,A1\n"
        + "P-1,belleville,2026-03-13T10:30+00:00,2026-03-13T11:00Z,,,\n"
    )
    # when
    plan = plan_of(organization, text)
    # then
    assert plan.errors == []
    first, second = plan.rows
    assert (first.line, first.action) == (2, "create")
    # No offset: the organization's time (Paris, UTC+1 in March before the change).
    assert first.appointment.starts_at == datetime.datetime(
        2026, 3, 12, 9, 30, tzinfo=UTC
    )
    assert first.appointment.practitioner == practitioner
    assert second.appointment.starts_at == datetime.datetime(
        2026, 3, 13, 10, 30, tzinfo=UTC
    )
    assert second.appointment.site == site  # site names match whatever the case
    assert Appointment.objects.count() == 0  # a plan writes nothing


@pytest.mark.parametrize(
    ("raw", "delimiter"),
    [(b"\xef\xbb\xbf", ","), (b"", ";"), (b"\xef\xbb\xbf", ";")],
)
def test_utf8_with_or_without_bom_and_either_delimiter(
    organization, patient, site, raw, delimiter
):
    text = (
        "patient_identifier,site,starts_at,ends_at\r\n"
        "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00\r\n"
    ).replace(",", delimiter)
    decoded = imports.csv_decode(raw + text.encode())
    plan = plan_of(organization, decoded)
    assert plan.errors == []
    assert len(plan.rows) == 1


def test_a_file_that_is_not_utf8_is_refused_clearly():
    with pytest.raises(ImportRefusedError) as refused:
        imports.csv_decode("patient_identifier;site\nP-1;Hôpital\n".encode("cp1252"))
    assert "UTF-8" in refused.value.plan.errors[0].message


def test_a_file_too_big_is_refused(monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 10)
    with pytest.raises(ImportRefusedError) as refused:
        imports.csv_decode(HEADER.encode())
    assert "too big" in refused.value.plan.errors[0].message


def test_too_many_rows_is_refused(organization, patient, site, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    row = "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,\n"
    plan = plan_of(organization, HEADER + row * 3)
    assert plan.rows == []
    assert "too big" in plan.errors[0].message


def test_wrong_headers_list_the_expected_ones(organization):
    plan = plan_of(organization, "patient,site,start_at,ends_at,colour\nP-1,x,y,z,w\n")
    [error] = plan.errors
    assert error.line == 1
    assert "missing: patient_identifier, starts_at" in error.message
    assert "unknown: patient, start_at, colour" in error.message
    assert "Expected: patient_identifier, site, starts_at, ends_at" in error.message


@pytest.mark.parametrize(
    "text", ["", "\n\n", "patient_identifier,site,starts_at,ends_at\n"]
)
def test_an_empty_file_is_refused(organization, text):
    plan = plan_of(organization, text)
    assert plan.rows == []
    assert len(plan.errors) == 1


def test_a_row_with_the_wrong_number_of_columns(organization, patient, site):
    plan = plan_of(organization, HEADER + "P-1,Belleville,2026-03-12 10:30\n")
    assert errors_of(plan) == [(2, "")]


# Row-level errors


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        ("12/03/2026 10:30", "is not a date and time"),
        ("2026-03-12", "is not a date and time"),
        ("2026-02-30 10:00", "is not a date and time"),
        ("", "Required"),
        ("2026-03-29 02:30", "does not exist in Europe/Paris"),
        ("2026-10-25 02:30", "happens twice in Europe/Paris"),
    ],
)
def test_bad_dates_are_refused_with_line_and_column(
    organization, patient, site, starts_at, message
):
    text = HEADER + f"P-1,Belleville,{starts_at},2026-12-12 11:00,,,\n"
    plan = plan_of(organization, text)
    [error] = plan.errors
    assert (error.line, error.column) == (2, "starts_at")
    assert message in error.message


def test_a_daylight_saving_time_with_its_offset_is_accepted(
    organization, patient, site
):
    text = HEADER + "P-1,Belleville,2026-10-25T02:30+01:00,2026-10-25T03:30+01:00,,,\n"
    plan = plan_of(organization, text)
    assert plan.errors == []
    assert plan.rows[0].appointment.starts_at == datetime.datetime(
        2026, 10, 25, 1, 30, tzinfo=UTC
    )


def test_end_before_start_is_refused(organization, patient, site):
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 10:00,,,\n"
    assert errors_of(plan_of(organization, text)) == [(2, "ends_at")]


def test_unknown_patient_site_and_practitioner(organization, patient, site):
    text = HEADER + "P-404,Nowhere,2026-03-12 10:30,2026-03-12 11:00,,dr.nobody,\n"
    plan = plan_of(organization, text)
    assert errors_of(plan) == [
        (2, "patient_identifier"),
        (2, "site"),
        (2, "practitioner"),
    ]
    assert "Belleville" in plan.errors[1].message  # the sites that exist


def test_another_organizations_patient_site_and_staff_are_unknown(
    organization, other_organization, site
):
    # given: the same identifier, site name and user name exist elsewhere only
    PatientFactory(organization=other_organization, identifier="P-9")
    SiteFactory(organization=other_organization, name="Riverside")
    StaffMemberFactory(organization=other_organization, user__username="dr.river")
    text = HEADER + "P-9,Riverside,2026-03-12 10:30,2026-03-12 11:00,,dr.river,\n"
    # when
    plan = plan_of(organization, text)
    # then
    assert errors_of(plan) == [
        (2, "patient_identifier"),
        (2, "site"),
        (2, "practitioner"),
    ]


def test_duplicate_external_ids_within_the_file(organization, patient, site):
    row = "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,X1\n"
    plan = plan_of(organization, HEADER + row + row)
    [error] = plan.errors
    assert (error.line, error.column) == (3, "external_id")
    assert "line 2" in error.message


def test_an_external_id_of_another_patients_appointment_is_refused(
    organization, patient, site
):
    AppointmentFactory(
        patient=PatientFactory(organization=organization), site=site, external_id="X1"
    )
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,X1\n"
    plan = plan_of(organization, text)
    [error] = plan.errors
    assert (error.line, error.column) == (2, "external_id")
    assert "another patient" in error.message


def test_an_external_id_of_another_organization_does_not_collide(
    organization, other_organization, patient, site
):
    AppointmentFactory(
        patient=PatientFactory(organization=other_organization), external_id="X1"
    )
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,X1\n"
    plan = plan_of(organization, text)
    assert plan.errors == []
    assert plan.rows[0].action == "create"


def test_an_existing_external_id_of_the_same_patient_moves_the_appointment(
    organization, patient, site
):
    # given
    existing = AppointmentFactory(
        patient=patient,
        site=site,
        external_id="X1",
        starts_at=datetime.datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
        ends_at=datetime.datetime(2026, 3, 12, 10, 0, tzinfo=UTC),
        kind="consultation",
    )
    text = (
        "patient_identifier,site,starts_at,ends_at,external_id\n"
        "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,X1\n"  # unchanged
    )
    assert plan_of(organization, text).rows[0].action == "unchanged"
    moved = text.replace("10:30", "14:30").replace("11:00", "15:00")
    # when
    plan = appointments_import(organization=organization, text=moved)
    # then
    assert plan.rows[0].action == "update"
    existing.refresh_from_db()
    assert existing.starts_at == datetime.datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
    assert existing.kind == "consultation"  # no kind column: kept
    assert Appointment.objects.count() == 1


def test_a_cancelled_appointment_cannot_be_moved_by_import(organization, patient, site):
    AppointmentFactory(patient=patient, site=site, external_id="X1", status="cancelled")
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,X1\n"
    [error] = plan_of(organization, text).errors
    assert "cancelled" in error.message


def test_staff_who_may_not_change_cannot_update(organization, patient, site):
    AppointmentFactory(patient=patient, site=site, external_id="X1")
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,X1\n"
    assert errors_of(plan_of(organization, text, may_update=False)) == [
        (2, "external_id")
    ]


def test_model_validation_errors_are_reported_per_column(organization, patient, site):
    text = HEADER + f"P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,{'k' * 65},,\n"
    assert errors_of(plan_of(organization, text)) == [(2, "kind")]


# Nothing half-done


def test_any_invalid_row_means_nothing_is_imported(organization, patient, site):
    text = (
        HEADER
        + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
        + "P-404,Belleville,2026-03-13 10:30,2026-03-13 11:00,,,A2\n"
    )
    with pytest.raises(ImportRefusedError) as refused:
        appointments_import(organization=organization, text=text)
    assert errors_of(refused.value.plan) == [(3, "patient_identifier")]
    assert Appointment.objects.count() == 0


def test_a_failure_while_saving_undoes_the_rows_already_saved(
    organization, patient, site, monkeypatch
):
    # given: the database changed after the plan: A2 now exists for another patient
    text = (
        HEADER
        + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
        + "P-1,Belleville,2026-03-13 10:30,2026-03-13 11:00,,,A2\n"
    )
    original = imports.appointments_import_plan

    def plan_then_race(**kwargs):
        plan = original(**kwargs)
        AppointmentFactory(
            patient=PatientFactory(organization=organization),
            site=site,
            external_id="A2",
        )
        return plan

    monkeypatch.setattr(imports, "appointments_import_plan", plan_then_race)
    # when
    with pytest.raises(ImportRefusedError) as refused:
        appointments_import(organization=organization, text=text)
    # then: the race is reported on its line, and A1 was not kept
    [error] = refused.value.plan.errors
    assert error.line == 3
    assert "already has this external id" in error.message
    assert not Appointment.objects.filter(external_id="A1").exists()


def test_every_row_goes_through_appointment_save_so_reminders_follow(
    organization, patient, site
):
    seen = []

    def receiver(sender, appointment, created, **kwargs):
        seen.append((appointment.external_id, created))

    appointment_changed.connect(receiver)
    try:
        appointments_import(
            organization=organization,
            text=HEADER
            + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
            + "P-1,Belleville,2026-03-13 10:30,2026-03-13 11:00,,,A2\n",
        )
    finally:
        appointment_changed.disconnect(receiver)
    assert seen == [("A1", True), ("A2", True)]


def test_a_plan_that_changed_since_the_preview_is_not_imported(
    organization, patient, site
):
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
    preview = plan_of(organization, text)
    AppointmentFactory(patient=patient, site=site, external_id="A1")  # now an update
    with pytest.raises(ImportChangedError) as changed:
        appointments_import(
            organization=organization,
            text=text,
            expected_fingerprint=preview.fingerprint,
        )
    assert changed.value.plan.rows[0].action == "update"
    assert Appointment.objects.count() == 1


# Admin


def upload(client, text, **extra):
    return client.post(
        URL,
        {"file": SimpleUploadedFile("rdv.csv", text.encode(), "text/csv"), **extra},
    )


def test_the_changelist_offers_the_import(staff_client):
    response = staff_client.get(reverse("admin:clinic_appointment_changelist"))
    assert URL in response.text


def test_preview_then_confirm_imports(staff_client, organization, patient, site):
    # given
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
    # when previewed
    response = upload(staff_client, text)
    # then: shown, nothing written, and no patient data kept in the session
    assert response.status_code == 200
    assert "2026-03-12 10:30 CET" in response.text
    assert Appointment.objects.count() == 0
    assert "P-1" not in str(dict(staff_client.session.items()))
    token = response.context["token"]
    # when the preview is confirmed
    response = staff_client.post(URL, {"token": token})
    # then
    assert response.status_code == 302
    assert Appointment.objects.get().external_id == "A1"


def test_errors_are_shown_with_line_and_column(staff_client, organization, site):
    text = HEADER + "P-404,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,\n"
    response = upload(staff_client, text)
    assert response.status_code == 200
    assert response.context["token"] is None
    assert re.search(r"<td>2</td><td>patient_identifier</td>", response.text)
    assert "P-404" in response.text


def test_wrong_headers_are_shown(staff_client):
    response = upload(staff_client, "a;b\n1;2\n")
    assert "Wrong headers" in response.text
    assert "patient_identifier, site, starts_at, ends_at" in response.text


def test_a_tampered_or_foreign_token_is_refused(
    staff_client, organization, patient, site, other_organization
):
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
    token = upload(staff_client, text).context["token"]
    response = staff_client.post(URL, {"token": token[:-2] + "xx"})
    assert response.status_code == 302
    assert Appointment.objects.count() == 0
    # another user's preview cannot be confirmed
    other = StaffMemberFactory(organization=organization, user__username="other")
    staff_client.force_login(other.user)
    assert staff_client.post(URL, {"token": token}).status_code == 403
    assert Appointment.objects.count() == 0


def test_staff_who_cannot_add_appointments_cannot_import(client, organization):
    member = StaffMemberFactory(organization=organization, role="clinician")
    client.force_login(member.user)
    assert client.get(URL).status_code == 403
    response = client.get(reverse("admin:clinic_appointment_changelist"))
    assert URL not in response.text


def test_a_superuser_picks_the_organization(
    client, superuser, organization, patient, site
):
    client.force_login(superuser)
    text = HEADER + "P-1,Belleville,2026-03-12 10:30,2026-03-12 11:00,,,A1\n"
    response = upload(client, text, organization=organization.pk)
    token = response.context["token"]
    assert token
    assert client.post(URL, {"token": token}).status_code == 302
    assert Appointment.objects.get().organization == organization
