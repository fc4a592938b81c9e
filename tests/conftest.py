import pytest

from django.core.cache import cache

from tests.clinic.factories import OrganizationFactory, StaffMemberFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """The cache may be a shared Redis: start every test from an empty one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Clinique des Lilas", slug="lilas")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(
        name="Riverside",
        slug="riverside",
        time_zone="America/New_York",
        default_language="en",
        country="US",
    )


@pytest.fixture
def staff_member(organization):
    return StaffMemberFactory(organization=organization, user__username="lilas.admin")


@pytest.fixture
def staff_client(client, staff_member):
    client.force_login(staff_member.user)
    return client


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)
