"""Erasure leaves no name, email, phone or message body of the patient in any table."""

import json

import pytest

from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models

from clinic.models import AccessAudit, Caregiver, Patient
from clinic.services import access_audit_record
from consent import limits, services
from consent.gdpr import registry
from consent.gdpr.erase import erase_patient
from consent.gdpr.export import export_patient
from consent.models import ConsentEvent, PatientPreferences, SendRecord
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    PatientFactory,
    StaffMemberFactory,
    UserFactory,
)
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

GIVEN = "Quillonette"
FAMILY = "Brackenwald"
EMAIL = "quillonette.brackenwald@example.net"
PHONE = "+33612345678"
BODY = "Quillonette, your results from the Brackenwald lab are in"
TRACES = (GIVEN, FAMILY, EMAIL, PHONE, PHONE.removeprefix("+33"), BODY)

TEXT_TYPES = {
    "CharField",
    "TextField",
    "EmailField",
    "SlugField",
    "URLField",
    "JSONField",
    "GenericIPAddressField",
}


def _as_text(value) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def traces_left(needles=TRACES) -> list[str]:
    """Every (table, column, row) in the database whose text holds a needle."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
            or field.get_internal_type() in TEXT_TYPES
        ]
        if not fields:
            continue
        names = [field.attname for field in fields]
        for pk, *values in model._base_manager.values_list("pk", *names):
            for name, value in zip(names, values, strict=True):
                text = _as_text(value).lower()
                found += [
                    f"{model._meta.db_table}.{name} (pk {pk}) holds {needle!r}"
                    for needle in needles
                    if needle.lower() in text
                ]
    return found


@pytest.fixture
def topic(organization):
    return TopicFactory(organization=organization, slug="results")


@pytest.fixture
def patient(organization, topic, staff_member):
    """A patient whose identity is spread over every table that can hold it."""
    user = UserFactory(username=EMAIL, first_name=GIVEN, last_name=FAMILY, email=EMAIL)
    patient = PatientFactory(
        organization=organization,
        given_name=GIVEN,
        family_name=FAMILY,
        email=EMAIL,
        phone=PHONE,
        user=user,
    )
    CaregiverFactory(patient=patient, relationship="parent")
    CaregiverFactory(patient=patient, relationship="guardian")
    services.preferences_update(patient=patient, channel_order={"results": ["inapp"]})
    PatientPreferences.objects.filter(patient=patient).update(
        email_verified_at="2024-01-01T00:00:00Z",
        phone_verified_at="2024-01-01T00:00:00Z",
    )
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        actor=user,
        actor_label="patient",
        ip_address="198.51.100.4",
        user_agent="Mozilla/5.0",
        wording_version="v1",
    )
    services.consent_withdraw(
        patient=patient,
        purpose="marketing",
        channel="sms",
        source="sms-keyword",
        actor_label="SMS keyword",
        evidence={"keyword": "STOP"},
    )
    limits.send_record(patient=patient, topic=topic, channel="sms", message_key="m1")
    AppointmentFactory(patient=patient, kind="consultation")
    access_audit_record(
        patient=patient, action=AccessAudit.Action.VIEW_RECORD, actor=staff_member.user
    )
    # The patient's own account reading their record: labelled with their name.
    access_audit_record(patient=patient, action=AccessAudit.Action.EXPORT, actor=user)
    LogEntry.objects.create(
        user=staff_member.user,
        content_type=ContentType.objects.get_for_model(Patient),
        object_id=str(patient.pk),
        object_repr=str(patient),
        action_flag=CHANGE,
    )
    appointment = patient.appointments.get()
    LogEntry.objects.create(
        user=staff_member.user,
        content_type=ContentType.objects.get_for_model(appointment),
        object_id=str(appointment.pk),
        object_repr=str(appointment),
        action_flag=CHANGE,
    )
    return patient


def test_patient_fixture_leaves_traces_everywhere(patient):
    """The scan finds what it looks for (the test below would be empty otherwise)."""
    found = "\n".join(traces_left())
    for place in (
        "clinic_patient.given_name",
        "clinic_patient.phone",
        "auth_user.email",
        "clinic_accessaudit.actor_label",
        "django_admin_log.object_repr",
    ):
        assert place in found


def test_erasure_leaves_no_trace_in_any_table(patient, staff_member):
    # given
    ledger = ConsentEvent.objects.filter(patient=patient).count()
    # when
    report = erase_patient(patient=patient, actor=staff_member.user)
    # then
    assert traces_left() == []
    assert report.already_erased is False
    assert ConsentEvent.objects.filter(patient=patient).count() == ledger == 2
    assert SendRecord.objects.filter(patient=patient).count() == 1
    assert patient.appointments.count() == 1
    assert not Caregiver.objects.filter(patient=patient).exists()


def test_erasure_anonymises_the_record_and_the_account(patient, staff_member):
    # given
    user = patient.user
    # when
    erase_patient(patient=patient, actor=staff_member.user)
    # then
    patient.refresh_from_db()
    user.refresh_from_db()
    assert (patient.given_name, patient.family_name) == ("Erased", "Patient")
    assert patient.identifier == f"erased-{patient.public_id.hex[:12]}"
    assert str(patient.birth_date) == "1900-01-01"
    assert (patient.email, str(patient.phone), patient.phone_is_mobile) == (
        "",
        "",
        False,
    )
    assert patient.erased_at is not None
    assert patient.user is None
    assert user.username == f"erased-{user.pk}"
    assert not user.is_active
    assert not user.has_usable_password()
    preferences = PatientPreferences.objects.get(patient=patient)
    assert preferences.channel_order == {}
    assert preferences.email_verified_at is None


def test_erasure_is_audited_once_and_idempotent(patient, staff_member):
    # given
    erase_patient(patient=patient, actor=staff_member.user)
    patient.refresh_from_db()
    before = Patient.objects.values().get(pk=patient.pk)
    audits = AccessAudit.objects.filter(patient=patient).count()
    # when
    report = erase_patient(patient=patient, actor=staff_member.user)
    # then
    assert report.already_erased is True
    assert report.erased_at == patient.erased_at
    assert Patient.objects.values().get(pk=patient.pk) == before
    assert AccessAudit.objects.filter(patient=patient).count() == audits
    erasure = AccessAudit.objects.get(patient=patient, action=AccessAudit.Action.ERASE)
    assert erasure.actor == staff_member.user


def test_erasure_without_actor_is_audited_as_the_system(patient):
    erase_patient(patient=patient)
    erasure = AccessAudit.objects.get(patient=patient, action=AccessAudit.Action.ERASE)
    assert (erasure.actor, erasure.actor_label) == (None, "Liaison")


def test_objection_survives_erasure(patient):
    # given
    PatientPreferences.objects.filter(patient=patient).update(
        objects_to_automation=True
    )
    # when
    erase_patient(patient=patient, actor_label="DPO")
    # then
    assert PatientPreferences.objects.get(patient=patient).objects_to_automation


def test_erasure_leaves_other_patients_alone(patient, organization):
    # given
    other = PatientFactory(organization=organization, given_name="Eglantine")
    # when
    erase_patient(patient=patient)
    # then
    other.refresh_from_db()
    assert other.given_name == "Eglantine"
    assert other.erased_at is None


def test_staff_account_is_only_detached(organization):
    """A patient who works at the clinic keeps their staff account."""
    # given
    member = StaffMemberFactory(organization=organization, user__first_name="Nurse")
    patient = PatientFactory(organization=organization, user=member.user)
    # when
    erase_patient(patient=patient)
    # then
    member.user.refresh_from_db()
    assert member.user.is_active
    assert member.user.first_name == "Nurse"
    patient.refresh_from_db()
    assert patient.user is None


def test_registered_erasers_run_while_the_identity_is_still_there(patient, monkeypatch):
    # given
    seen = []

    def erase_surveys(p):
        seen.append(p.email)
        return 3

    monkeypatch.setattr(registry, "_erasers", [])
    registry.register_eraser(erase_surveys)
    # when
    report = erase_patient(patient=patient)
    # then
    assert seen == [EMAIL]
    assert 3 in report.rows.values()


def test_erased_patient_exports_without_identity(patient):
    # given
    erase_patient(patient=patient)
    # when
    document = json.dumps(export_patient(patient=patient))
    # then
    assert all(trace not in document for trace in TRACES)
    assert "Erased" in document


def _messaging_eraser_registered() -> bool:
    return any(fn.__module__.startswith("messaging") for fn in registry.erasers())


@pytest.mark.skipif(
    not _messaging_eraser_registered(),
    reason="messaging does not register its GDPR eraser yet (issue 3)",
)
def test_erasure_leaves_no_message_body_or_address(patient, topic):
    # given
    from conversations.models import Conversation
    from messaging.models import Delivery, Message, OutboxEntry, UnmatchedInbound

    conversation = Conversation.objects.create(
        organization=patient.organization, patient=patient, subject=f"{FAMILY} file"
    )
    message = Message.objects.create(
        organization=patient.organization,
        patient=patient,
        topic=topic,
        conversation=conversation,
        origin="staff",
        sensitivity="confidential",
        language="fr",
        subject=GIVEN,
        body=BODY,
        context={"patient_first_name": GIVEN},
    )
    delivery = Delivery.objects.create(
        message=message, channel="email", address=EMAIL, subject=GIVEN, body=BODY
    )
    OutboxEntry.objects.create(
        organization=patient.organization,
        delivery=delivery,
        channel="email",
        to=EMAIL,
        body=BODY,
    )
    OutboxEntry.objects.create(  # its delivery is gone: found by address only
        organization=patient.organization, channel="sms", to=PHONE, body=BODY
    )
    UnmatchedInbound.objects.create(  # an SMS from them no patient matched
        organization=patient.organization,
        provider="twilio",
        provider_message_id="SM-1",
        to_number="+33700000000",
        from_number=PHONE,
        text=BODY,
    )
    # when
    erase_patient(patient=patient)
    # then
    assert traces_left() == []
