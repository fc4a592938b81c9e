"""``branding`` in templates: the clinic of the patient shown (the one acted
for, for a caregiver), Liaison's own elsewhere; one query at most."""

import pytest

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import reverse

from clinic import services
from clinic.branding import DEFAULT_BRANDING, branding_for
from portal.access import SESSION_KEY, PortalAccess, portal_access
from portal.context_processors import branding, request_branding
from tests.clinic.branding_support import image_bytes
from tests.clinic.factories import CaregiverFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lilas(organization):
    organization.accent_colour = "#6b3fa0"
    organization.sender_name = "Secrétariat des Lilas"
    organization.save()
    services.organization_logo_set(organization=organization, data=image_bytes())
    return organization


@pytest.fixture
def riverside(other_organization):
    other_organization.accent_colour = "#0f6e5a"
    other_organization.save()
    return other_organization


@pytest.fixture
def parent(lilas, riverside):
    """A patient of Les Lilas who may read the messages of a child who is a
    patient of Riverside."""
    user = UserFactory(username="parent")
    PatientFactory(organization=lilas, user=user)
    child = PatientFactory(organization=riverside, given_name="Lou")
    CaregiverFactory(user=user, patient=child, can_see_messages=True)
    return user, child


def request_for(user, acting_for=None):
    request = RequestFactory().get("/portal/")
    request.user = user
    request.session = {SESSION_KEY: str(acting_for)} if acting_for else {}
    return request


def test_a_patient_sees_their_clinics_branding(patient_client, lilas):
    response = patient_client.get(reverse("portal:inbox"))
    shown = response.context["branding"]
    assert shown.name == "Clinique des Lilas"
    assert shown.sender_name == "Secrétariat des Lilas"
    assert shown.logo_url == branding_for(lilas).logo_url != ""
    assert shown.theme_url == branding_for(lilas).theme_url != ""


def test_a_caregiver_sees_the_clinic_of_the_patient_acted_for(client, parent, lilas):
    user, child = parent
    client.force_login(user)
    own = client.get(reverse("portal:inbox")).context["branding"]
    client.post(reverse("portal:act_for", args=[child.public_id]))
    acting = client.get(reverse("portal:inbox")).context["branding"]
    assert own.name == "Clinique des Lilas"
    assert acting.name == "Riverside"
    assert acting.theme_url == branding_for(child.organization).theme_url
    assert acting.logo_url == ""  # Riverside has no logo


def test_anonymous_pages_get_liaisons_own_without_a_query(
    client, lilas, django_assert_num_queries
):
    response = client.get(reverse("account_login"))
    with django_assert_num_queries(0):
        shown = response.context["branding"]
        assert shown.name == "Liaison"
        assert (shown.logo_url, shown.theme_url) == ("", "")


def test_a_portal_page_costs_no_query(patient_user, lilas, django_assert_num_queries):
    user, _patient = patient_user
    request = request_for(user)
    request.portal = portal_access(request)
    with django_assert_num_queries(0):
        assert request_branding(request).theme_url == branding_for(lilas).theme_url


def test_a_caregiver_on_a_portal_page_costs_no_query(
    parent, riverside, django_assert_num_queries
):
    user, child = parent
    request = request_for(user, child.public_id)
    request.portal = portal_access(request)
    assert isinstance(request.portal, PortalAccess)
    with django_assert_num_queries(0):
        assert request_branding(request).name == "Riverside"


def test_other_pages_of_a_signed_in_user_cost_one_query(
    parent, django_assert_num_queries
):
    user, child = parent
    with django_assert_num_queries(1):
        assert request_branding(request_for(user)).name == "Clinique des Lilas"
    with django_assert_num_queries(1):
        assert request_branding(request_for(user, child.public_id)).name == "Riverside"


def test_a_revoked_link_or_someone_elses_patient_gives_liaisons_own(
    parent, patient_user
):
    user, child = parent
    stranger = patient_user[1]
    assert request_branding(request_for(user, stranger.public_id)) == DEFAULT_BRANDING
    child.caregivers.update(revoked_at="2026-01-01T00:00Z")
    assert request_branding(request_for(user, child.public_id)) == DEFAULT_BRANDING


def test_a_caregiver_choosing_whom_to_act_for_gets_liaisons_own(parent):
    request = request_for(parent[0])
    request.portal = None  # portal:home before choosing (portal.views.home.home)
    assert request_branding(request) == DEFAULT_BRANDING


def test_staff_and_anonymous_users_get_liaisons_own(staff_member):
    assert request_branding(request_for(staff_member.user)) == DEFAULT_BRANDING
    assert request_branding(request_for(AnonymousUser())) == DEFAULT_BRANDING


def test_nothing_is_read_until_a_template_asks(patient_user, django_assert_num_queries):
    with django_assert_num_queries(0):
        context = branding(request_for(patient_user[0]))
    with django_assert_num_queries(1):
        assert context["branding"].name == "Clinique des Lilas"
