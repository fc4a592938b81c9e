import pytest

from clinic.models import Caregiver
from tests.clinic.factories import CaregiverFactory, PatientFactory, UserFactory
from tests.portal.privacy_support import _patient


@pytest.fixture
def patient_user(organization):
    user = UserFactory(username="camille")
    patient = PatientFactory(organization=organization, user=user, given_name="Camille")
    return user, patient


@pytest.fixture
def patient_client(client, patient_user):
    client.force_login(patient_user[0])
    return client


@pytest.fixture
def caregiver(organization):
    """A parent with messages-only proxy access to a child."""
    parent = UserFactory(username="parent")
    child = PatientFactory(organization=organization, given_name="Lou")
    return CaregiverFactory(
        user=parent, patient=child, can_see_messages=True, can_see_appointments=False
    )


@pytest.fixture
def teen(organization):
    """A 16-year-old with a portal account."""
    return _patient(organization, 16, "teen")


@pytest.fixture
def parent(teen):
    """The teen's parent, who may read messages and appointments."""
    return CaregiverFactory(
        user=UserFactory(username="parent"),
        patient=teen,
        relationship=Caregiver.Relationship.PARENT,
        can_see_messages=True,
        can_see_appointments=True,
    )
