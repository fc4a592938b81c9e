"""Staff invite patients to a survey from its admin page, all or nothing."""

import pytest

from conversations.models import Conversation
from feedback.models import SurveyInvitation
from tests.clinic.factories import (
    OrganizationFactory,
    PatientFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, organization):
    member = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(member.user)
    return client


def url(survey):
    return f"/admin/feedback/survey/{survey.pk}/invite/"


def test_invites_listed_patients(staff_client, survey, organization):
    first = PatientFactory(organization=organization, identifier="A-1")
    PatientFactory(organization=organization, identifier="A-2")
    page = staff_client.get(f"/admin/feedback/survey/{survey.pk}/change/")
    assert url(survey) in page.content.decode()
    response = staff_client.post(
        url(survey), {"identifiers": "A-1\nA-2, A-1"}, follow=True
    )
    assert response.status_code == 200
    assert SurveyInvitation.objects.count() == 2
    assert SurveyInvitation.objects.filter(patient=first).exists()


def test_unknown_identifier_invites_nobody(staff_client, survey, organization):
    PatientFactory(organization=organization, identifier="A-1")
    stranger = PatientFactory(
        organization=OrganizationFactory(slug="far"), identifier="B-9"
    )
    response = staff_client.post(
        url(survey), {"identifiers": f"A-1\n{stranger.identifier}"}
    )
    assert response.status_code == 200
    assert "B-9" in response.content.decode()
    assert not SurveyInvitation.objects.exists()


def test_patient_with_open_complaint_is_skipped_with_reason(
    staff_client, survey, organization
):
    patient = PatientFactory(organization=organization, identifier="A-1")
    Conversation.objects.create(
        organization=organization, patient=patient, kind="complaint"
    )
    response = staff_client.post(url(survey), {"identifiers": "A-1"}, follow=True)
    assert "open complaint" in response.content.decode()
    assert not SurveyInvitation.objects.exists()


def test_another_organizations_survey_is_404(client, survey):
    member = StaffMemberFactory(
        organization=OrganizationFactory(slug="far"), role="admin"
    )
    client.force_login(member.user)
    assert client.get(url(survey)).status_code == 404
