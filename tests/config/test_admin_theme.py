"""Admin's own theme (issue 19; docs/architecture.md, "The admin's look"): the
stylesheet on every admin page, the CSP unchanged there, the organization in
the header, and models listed by task, each once, as the user's permissions
allow."""

import re

import pytest

from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from clinic.admin_tasks import OTHER, TASKS, tasks_from_app_list
from tests.clinic.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db

THEME = "/static/admin-theme/liaison-admin.css"
INDEX = reverse("admin:index")


def _directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (
            part.split() for part in header.split(";") if part.strip()
        )
    }


def _stylesheets(page: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)


@pytest.mark.parametrize(
    "url",
    [
        INDEX,
        reverse("admin:clinic_patient_changelist"),
        reverse("admin:campaigns_campaign_add"),
        reverse("admin:insights_dashboard_changelist"),
    ],
)
def test_the_theme_is_the_last_stylesheet_of_admin_pages(staff_client, url):
    # when
    page = staff_client.get(url).content.decode()
    # then: after Django's and the page's own, so its rules win
    sheets = _stylesheets(page)
    assert sheets[-1] == THEME
    assert "/static/admin/css/responsive.css" in sheets[:-1]


def test_the_sign_in_page_is_themed_too(client):
    page = client.get(reverse("admin:login")).content.decode()
    assert _stylesheets(page)[-1] == THEME


@pytest.mark.parametrize(
    "url",
    [INDEX, reverse("admin:clinic_patient_changelist"), reverse("admin:login")],
)
def test_admin_pages_keep_the_strict_policy(client, staff_member, url):
    """No 'unsafe-eval', no inline script or style: the theme is static files."""
    # given
    if url != reverse("admin:login"):
        client.force_login(staff_member.user)
    # when
    response = client.get(url)
    # then
    directives = _directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    page = response.content.decode()
    assert " style=" not in page
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page)
    assert "<style" not in page


def test_the_header_names_the_staff_members_organization(
    client, organization, other_organization
):
    # given
    member = StaffMemberFactory(organization=other_organization)
    client.force_login(member.user)
    # when
    page = client.get(INDEX).content.decode()
    # then
    assert '<span class="brand-organization">Riverside</span>' in page
    assert organization.name not in page


def test_a_superuser_without_organization_gets_no_organization_label(client, superuser):
    client.force_login(superuser)
    page = client.get(INDEX).content.decode()
    assert "brand-organization" not in page


def _rendered_models(page: str, container: str) -> list[str]:
    """(task, model) ids of a task list: its row headers' ids."""
    start = page.index(container)
    return re.findall(r'<th scope="row" id="([a-z]+-[a-z]+)"', page[start:])


def _app_list_models(user) -> set[str]:
    request = RequestFactory().get(INDEX)
    request.user = user
    return {
        model["object_name"].lower()
        for app in admin.site.get_app_list(request)
        for model in app["models"]
    }


@pytest.mark.parametrize("role", ["admin", "support", "marketing"])
def test_the_index_lists_each_permitted_model_once_by_task(client, organization, role):
    # given
    member = StaffMemberFactory(organization=organization, role=role)
    client.force_login(member.user)
    # when
    page = client.get(INDEX).content.decode()
    # then
    content = page[page.index('id="content-main"') : page.index('id="content-related"')]
    rows = re.findall(r'<th scope="row" id="([a-z]+)-([a-z]+)"', content)
    names = [name for _task, name in rows]
    assert len(names) == len(set(names))
    assert set(names) == _app_list_models(member.user)
    keys = [key for key, _label, _names in TASKS]
    tasks = list(dict.fromkeys(task for task, _name in rows))
    assert tasks == [key for key in keys if key in tasks]


def test_a_limited_role_sees_only_its_models(client, organization):
    """Marketing staff: no patients' consent ledger, no accounts, no API keys."""
    # given
    member = StaffMemberFactory(organization=organization, role="marketing")
    client.force_login(member.user)
    # when
    page = client.get(INDEX).content.decode()
    # then
    assert reverse("admin:campaigns_campaign_changelist") in page
    for hidden in (
        "admin:auth_user_changelist",
        "admin:api_apikey_changelist",
        "admin:clinic_staffmember_changelist",
    ):
        assert reverse(hidden) not in page


def test_the_sidebar_lists_models_by_task(staff_client):
    # when
    page = staff_client.get(reverse("admin:clinic_patient_changelist")).content.decode()
    # then
    sidebar = page[page.index('id="nav-sidebar"') :]
    assert 'class="task-patients module task-module"' in sidebar
    assert re.search(
        r'<tr class="model-patient current-model">\s*<th scope="row" id="patients-patient">',
        sidebar,
    )


def test_the_task_names_in_french(staff_client):
    with translation.override("fr"):
        page = staff_client.get(INDEX, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Patients et rendez-vous" in page
    assert "Consentement et confidentialité" in page


def test_every_model_named_by_a_task_is_registered_and_named_once():
    named = [name for _key, _label, names in TASKS for name in names]
    registered = {
        f"{model._meta.app_label}.{model._meta.model_name}"
        for model in admin.site._registry
    }
    assert len(named) == len(set(named))
    assert set(named) <= registered


def _model(name: str) -> dict:
    return {"object_name": name, "name": name}


def test_a_model_no_task_names_goes_to_settings_last():
    # given
    app_list = [
        {"app_label": "clinic", "models": [_model("Site"), _model("Patient")]},
        {"app_label": "newapp", "models": [_model("Gadget")]},
    ]
    # when
    tasks = tasks_from_app_list(app_list)
    # then: empty groups left out, task order kept, the unnamed model last
    assert [task["key"] for task in tasks] == ["patients", OTHER]
    assert [m["object_name"] for m in tasks[1]["models"]] == ["Site", "Gadget"]
