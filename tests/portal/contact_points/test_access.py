"""Contact details: who may change them, and what is kept, sent and logged."""

import hashlib
import logging

import pytest

from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse

from clinic.models import Patient
from portal.contact_points.models import ContactPointChange
from portal.contact_points.services import (
    contact_changes_erase,
)
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    PatientFactory,
    UserFactory,
)
from tests.portal.contact_points.conftest import (
    DETAILS,
    NEW_EMAIL,
    NEW_MOBILE,
    OLD_EMAIL,
    Status,
    ask,
    confirm_url,
    emailed_code,
    enter,
    pending_change,
    texted_code,
    wrong,
)

pytestmark = pytest.mark.django_db

# Who may


def test_a_caregiver_without_the_preferences_scope_gets_404(client, patient, security):
    # given: a parent who may read messages only, and the patient's pending change
    caregiver = CaregiverFactory(
        user=UserFactory(username="parent"),
        patient=patient,
        can_see_messages=True,
        can_manage_preferences=False,
    )
    change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value=NEW_EMAIL
    )
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()
    # when / then
    assert client.get(DETAILS).status_code == 404
    assert ask(client, "email", "parent@example.org").status_code == 404
    assert client.get(confirm_url(change)).status_code == 404
    assert enter(client, change, "000000").status_code == 404
    assert mail.outbox == []


def _acting_for(client, patient, **scopes):
    caregiver = CaregiverFactory(
        user=UserFactory(username="parent"), patient=patient, **scopes
    )
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()
    return caregiver


def test_a_proxy_cannot_move_the_sign_in_codes_of_a_patient_with_an_account(
    client, patient
):
    """The patient's email and mobile carry their own sign-in codes: a parent
    with the preferences scope must not redirect them to themself."""
    assert patient.user_id is not None
    _acting_for(client, patient, can_manage_preferences=True)
    assert client.get(DETAILS).status_code == 404
    assert ask(client, "email", "parent@example.org").status_code == 404
    assert "contact/" not in client.get(reverse("portal:preferences")).content.decode()
    assert mail.outbox == []


def test_a_caregiver_with_the_preferences_scope_may_change_it(client, patient):
    """A young child without an account: the parent keeps the details right."""
    Patient.objects.filter(pk=patient.pk).update(user=None)
    patient.refresh_from_db()
    # given
    caregiver = CaregiverFactory(
        user=UserFactory(username="parent"),
        patient=patient,
        can_manage_preferences=True,
    )
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()
    # when
    ask(client, "email", NEW_EMAIL)
    enter(client, pending_change(patient), emailed_code())
    # then
    patient.refresh_from_db()
    assert patient.email == NEW_EMAIL
    assert LogEntry.objects.get().user == caregiver.user
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL], [OLD_EMAIL]]


def test_another_patient_cannot_confirm_someone_elses_change(client, client_, patient):
    # given: Camille asked for a change
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    client_.logout()
    neighbour = UserFactory(username="neighbour")
    PatientFactory(organization=patient.organization, user=neighbour)
    client.force_login(neighbour)
    # when
    responses = [
        client.get(confirm_url(change)),
        enter(client, change, code),
        client.post(confirm_url(change), {"action": "cancel"}),
        client.post(confirm_url(change), {"action": "resend"}),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    change.refresh_from_db()
    assert (change.status, change.failed_attempts, change.send_count) == (
        Status.PENDING,
        0,
        1,
    )
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL


# What is kept, sent and logged


def test_the_code_is_not_stored_in_clear(client_, patient):
    # given
    ask(client_, "phone", NEW_MOBILE)
    code = texted_code()
    # then: only a keyed hash, in no column of the pending change
    change = pending_change(patient)
    values = [
        str(getattr(change, field.attname)) for field in change._meta.concrete_fields
    ]
    assert not any(code in value for value in values)
    assert len(change.code_hash) == 64
    assert change.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert not ContactPointChange.objects.filter(code_hash__contains=code).exists()


def test_no_health_data_in_the_messages_and_the_code_is_not_logged(
    client_, patient, caplog
):
    # given: a patient with appointments, named so that no word of the
    # messages can contain the names by chance (as a random "Chang" is in
    # "Change")
    patient.given_name, patient.family_name = "Xaviqueth", "Quorvandel"
    patient.save(update_fields=["given_name", "family_name"])
    AppointmentFactory(patient=patient, kind="SECRET-KIND")
    caplog.set_level(logging.DEBUG)
    # when: a whole change, with a wrong code on the way
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    enter(client_, change, wrong(code))
    enter(client_, change, code)
    # then
    for sent in mail.outbox:
        text = f"{sent.subject}\n{sent.body}"
        assert "SECRET-KIND" not in text
        assert patient.given_name not in text
        assert patient.family_name not in text
        assert patient.organization.name not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert code not in logged
    assert wrong(code) not in logged
    assert NEW_EMAIL not in logged


def test_erasure_forgets_the_pending_address(patient):
    change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value=NEW_EMAIL, code_hash="x" * 64
    )
    assert contact_changes_erase(patient) == 2
    change.refresh_from_db()
    assert (change.status, change.new_value, change.code_hash) == (
        Status.CANCELLED,
        "",
        "",
    )
    assert contact_changes_erase(patient) == 0


def test_erasing_the_patient_erases_their_pending_address(patient):
    """The portal registers its eraser: the GDPR erasure reaches the change."""
    from consent.gdpr.erase import erase_patient

    change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value=NEW_EMAIL, code_hash="x" * 64
    )
    erase_patient(patient=patient, actor_label="test")
    change.refresh_from_db()
    assert (change.new_value, change.code_hash) == ("", "")
