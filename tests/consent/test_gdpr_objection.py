"""A patient's objection to automated processing is recorded, audited and readable."""

import pytest

from clinic.models import AccessAudit
from consent.errors import ConsentError
from consent.gdpr.objection import object_to_automation, patient_objects_to_automation
from consent.models import PatientPreferences
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization)


def _objections(patient):
    return AccessAudit.objects.filter(patient=patient, action=AccessAudit.Action.OBJECT)


def test_patient_without_preferences_does_not_object(patient):
    assert patient_objects_to_automation(patient=patient) is False
    assert not PatientPreferences.objects.filter(patient=patient).exists()


def test_objection_is_recorded_and_audited(patient, staff_member):
    # when
    preferences = object_to_automation(patient=patient, actor=staff_member.user)
    # then
    assert preferences.objects_to_automation is True
    assert preferences.objected_at is not None
    assert patient_objects_to_automation(patient=patient) is True
    audit = _objections(patient).get()
    assert audit.actor == staff_member.user
    assert audit.detail == "objection (staff)"


def test_recording_the_same_objection_twice_writes_once(patient):
    # given
    first = object_to_automation(patient=patient, source="portal")
    # when
    second = object_to_automation(patient=patient, source="portal")
    # then
    assert second.objected_at == first.objected_at
    assert _objections(patient).count() == 1


def test_objection_can_be_lifted(patient):
    # given
    object_to_automation(patient=patient, actor_label="patient", source="portal")
    # when
    preferences = object_to_automation(patient=patient, objects=False, source="portal")
    # then
    assert preferences.objects_to_automation is False
    assert preferences.objected_at is None
    assert patient_objects_to_automation(patient=patient) is False
    assert [a.detail for a in _objections(patient).order_by("id")] == [
        "objection (portal)",
        "objection lifted (portal)",
    ]


def test_unknown_source_is_refused(patient):
    with pytest.raises(ConsentError):
        object_to_automation(patient=patient, source="fax")
    assert not _objections(patient).exists()


def test_objection_keeps_other_preferences(patient):
    # given
    PatientPreferences.objects.create(patient=patient, marketing_per_week=1)
    # when
    object_to_automation(patient=patient)
    # then
    assert PatientPreferences.objects.get(patient=patient).marketing_per_week == 1
