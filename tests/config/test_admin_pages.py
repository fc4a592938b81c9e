"""Every admin list, add and change page renders, on the demo data, for a
superuser and for each staff role of a demo clinic: a broken admin option,
template or query shows up here rather than in front of staff."""

import contextlib

import pytest

from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from clinic.models import StaffMember

pytestmark = pytest.mark.django_db

ROLES = ["admin", "coordinator", "clinician", "support", "marketing"]


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise
    call_command("seed_demo", verbosity=0)


def _pages(model, model_admin):
    info = model._meta.app_label, model._meta.model_name
    pages = [reverse("admin:{}_{}_changelist".format(*info))]
    with contextlib.suppress(NoReverseMatch):  # no add page for some models
        pages.append(reverse("admin:{}_{}_add".format(*info)))
    first = model_admin.get_queryset(_Request()).order_by("pk").first()
    if first is not None:
        pages.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return pages


class _Superuser:
    is_superuser = True
    is_active = True


class _Request:
    """Enough of a request for get_queryset as a superuser sees it."""

    user = _Superuser


def _walk(client):
    problems = []
    for model, model_admin in admin.site._registry.items():
        for url in _pages(model, model_admin):
            status = client.get(url).status_code
            if status >= 500:
                problems.append(f"{status} {url}")
    return problems


def test_every_admin_page_renders_for_a_superuser(client, superuser, demo):
    client.force_login(superuser)
    assert _walk(client) == []


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_renders_for_each_role(client, demo, role):
    staff = StaffMember.objects.get(user__username=f"lilas.{role}")
    client.force_login(staff.user)
    # 403 or 404 where the role may not go; never a server error.
    assert _walk(client) == []
