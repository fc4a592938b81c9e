"""Staff reading a patient's record anywhere writes the access audit: admin
lists and record pages, the conversation desk, the insights drill-downs. One
entry per staff × patient × surface within AUDIT_REPEAT_WINDOW, a list page in
one INSERT, and the patient sees every reader on "who accessed my record"."""

import datetime

import pytest
import time_machine

from django.contrib import admin
from django.urls import reverse

from clinic.admin_scoping import AccessAuditedAdmin
from clinic.models import AccessAudit, Patient
from clinic.services import AUDIT_REPEAT_WINDOW
from tests.clinic.factories import PatientFactory, SiteFactory, StaffMemberFactory
from tests.insights.builders import (
    appointment,
    conversation,
    delivery,
    message,
    topic,
    withdrawal,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 20, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def camille(organization):
    return PatientFactory(organization=organization, given_name="Camille")


# surface → (admin URL name, what to make for the patient: the object shown)
def _patient(patient):
    return patient


def _appointment(patient):
    return appointment(
        patient, SiteFactory(organization=patient.organization), "booked"
    )


def _message(patient):
    return message(patient, topic(patient.organization, "results"))


def _delivery(patient):
    return delivery(_message(patient), "sms", "delivered")


def _conversation(patient):
    return conversation(patient)


def _consent_event(patient):
    return withdrawal(patient, purpose="marketing")


SURFACES = {
    "clinic_patient": (_patient, AccessAudit.Action.VIEW_RECORD),
    "clinic_appointment": (_appointment, AccessAudit.Action.VIEW_RECORD),
    "messaging_message": (_message, AccessAudit.Action.VIEW_MESSAGE),
    "messaging_delivery": (_delivery, AccessAudit.Action.VIEW_RECORD),
    "conversations_conversation": (_conversation, AccessAudit.Action.VIEW_MESSAGE),
    "consent_consentevent": (_consent_event, AccessAudit.Action.VIEW_RECORD),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_an_admin_list_showing_a_patient_writes_the_audit(
    client, staff_member, camille, surface
):
    # given
    make, action = SURFACES[surface]
    make(camille)
    client.force_login(staff_member.user)
    # when
    response = client.get(reverse(f"admin:{surface}_changelist"))
    # then
    assert response.status_code == 200
    entry = AccessAudit.objects.get(patient=camille)
    assert entry.actor == staff_member.user
    assert entry.action == action
    assert entry.detail == f"admin: {surface.replace('_', '.', 1)} list"
    assert entry.organization_id == camille.organization_id


@pytest.mark.parametrize("surface", SURFACES)
def test_an_admin_record_page_writes_the_audit(client, staff_member, camille, surface):
    # given
    make, action = SURFACES[surface]
    shown = make(camille)
    client.force_login(staff_member.user)
    # when
    response = client.get(reverse(f"admin:{surface}_change", args=[shown.pk]))
    # then
    assert response.status_code == 200
    entry = AccessAudit.objects.get(patient=camille)
    assert entry.action == action
    assert str(getattr(shown, "public_id", shown.pk)) in entry.detail


def test_every_admin_of_patient_rows_knows_its_patient():
    """A new admin of rows that point at a patient cannot forget the audit:
    its rows' patient is found, by itself or named."""
    patient_models = {"Patient", "Appointment", "Message"}
    for model, model_admin in admin.site._registry.items():
        points_at_patient = issubclass(model, Patient) or any(
            field.is_relation
            and field.many_to_one
            and field.related_model.__name__ in patient_models
            for field in model._meta.get_fields()
        )
        if points_at_patient:
            assert isinstance(model_admin, AccessAuditedAdmin), model
            assert model_admin._audit_path() is not None, model


def test_a_list_page_writes_in_a_bounded_number_of_queries(
    client, staff_member, organization, django_assert_max_num_queries
):
    # given: a full page of appointments, each of another patient
    site = SiteFactory(organization=organization)
    for _ in range(60):
        appointment(PatientFactory(organization=organization), site, "booked")
    client.force_login(staff_member.user)
    url = reverse("admin:clinic_appointment_changelist")
    # when
    with django_assert_max_num_queries(20) as queries:
        client.get(url)
    # then: 60 entries, written by one INSERT
    assert AccessAudit.objects.count() == 60
    inserts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("INSERT") and "clinic_accessaudit" in q["sql"]
    ]
    assert len(inserts) == 1


def test_repeats_within_the_window_are_one_entry(client, staff_member, camille, clock):
    # given
    _appointment(camille)
    client.force_login(staff_member.user)
    url = reverse("admin:clinic_appointment_changelist")
    # when: the list twice, then its next reading after the window
    client.get(url)
    client.get(url)
    clock.shift(AUDIT_REPEAT_WINDOW + datetime.timedelta(seconds=1))
    client.get(url)
    # another surface, or another reader, is its own entry
    client.get(reverse("admin:clinic_patient_changelist"))
    colleague = StaffMemberFactory(organization=camille.organization, role="support")
    client.force_login(colleague.user)
    client.get(url)
    # then
    entries = AccessAudit.objects.filter(patient=camille)
    assert entries.filter(actor=staff_member.user).count() == 3
    assert entries.filter(actor=colleague.user).count() == 1


def test_the_client_address_is_the_one_helpers(client, staff_member, camille, settings):
    # given: behind the trusted proxy
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client.force_login(staff_member.user)
    # when
    client.get(
        reverse("admin:clinic_patient_change", args=[camille.pk]),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    # then
    assert AccessAudit.objects.get(patient=camille).client_address == "203.0.113.7"


def test_another_organizations_patient_is_not_audited_nor_shown(
    client, staff_member, other_organization
):
    stranger = PatientFactory(organization=other_organization)
    _appointment(stranger)
    client.force_login(staff_member.user)
    client.get(reverse("admin:clinic_appointment_changelist"))
    assert not AccessAudit.objects.exists()


def test_the_conversation_desk_writes_the_audit_once_per_window(
    client, staff_member, camille
):
    # given
    shown = _conversation(camille)
    client.force_login(staff_member.user)
    url = reverse("admin:conversations_conversation_thread", args=[shown.pk])
    # when
    client.get(url, REMOTE_ADDR="198.51.100.4")
    client.get(url)
    # then
    entry = AccessAudit.objects.get(patient=camille)
    assert entry.action == AccessAudit.Action.VIEW_MESSAGE
    assert entry.client_address == "198.51.100.4"


INSIGHTS = "/admin/insights/dashboard/"
PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


def test_an_insights_drill_down_writes_the_audit_for_its_page(
    client, staff_member, camille, organization
):
    # given: two SMS of Camille's, one of another patient's
    results = topic(organization, "results")
    delivery(message(camille, results), "sms", "delivered")
    delivery(message(camille, results), "sms", "failed")
    other = PatientFactory(organization=organization)
    delivery(message(other, results), "sms", "failed")
    client.force_login(staff_member.user)
    # when
    response = client.get(INSIGHTS + "rows/delivery_rate.sms/", PERIOD)
    # then
    assert response.status_code == 200
    assert set(AccessAudit.objects.values_list("patient", "detail")) == {
        (camille.pk, "insights: delivery_rate.sms"),
        (other.pk, "insights: delivery_rate.sms"),
    }


def test_an_insights_csv_writes_the_audit(client, staff_member, camille, organization):
    # given
    appointment(camille, SiteFactory(organization=organization), "fulfilled")
    delivery(message(camille, topic(organization, "results")), "sms", "delivered")
    client.force_login(staff_member.user)
    # when
    response = client.get(INSIGHTS + "rows/delivery_rate.sms/export.csv", PERIOD)
    b"".join(response.streaming_content)
    # then
    entry = AccessAudit.objects.get(patient=camille)
    assert entry.detail == "insights: delivery_rate.sms csv"


def test_the_patient_sees_who_read_their_record(
    client, staff_member, organization, patient_portal
):
    # given: staff open the patient's record and the appointments list
    user, patient = patient_portal
    _appointment(patient)
    staff_member.user.first_name, staff_member.user.last_name = "Anne", "Martin"
    staff_member.user.save()
    client.force_login(staff_member.user)
    client.get(reverse("admin:clinic_patient_change", args=[patient.pk]))
    client.get(reverse("admin:clinic_appointment_changelist"))
    # when
    client.force_login(user)
    client.cookies["django_language"] = "en"
    page = client.get("/portal/data/access/")
    # then
    assert page.status_code == 200
    assert page.text.count("Anne Martin viewed the record.") == 2


@pytest.fixture
def patient_portal(organization):
    from tests.clinic.factories import UserFactory

    user = UserFactory(username="camille")
    return user, PatientFactory(organization=organization, user=user)
