"""The portal's navigation (issue 19): at most five tabs, the current one
marked, a caregiver seeing only the destinations their scopes open, and a
"More" page for the rest."""

import itertools

import pytest

from django.urls import reverse

from tests.clinic.factories import CaregiverFactory, PatientFactory, UserFactory
from tests.portal.html_support import parse, tabs

pytestmark = pytest.mark.django_db
PATIENT_TABS = ["home", "inbox", "appointments", "preferences", "more"]


def _tab_keys(html: str) -> list[str]:
    return [link.attrs["data-tab"] for link in tabs(html)]


def _current(html: str) -> list[str]:
    return [
        link.attrs["data-tab"]
        for link in tabs(html)
        if link.attrs.get("aria-current") == "page"
    ]


def test_a_patient_has_five_tabs_with_visible_labels(patient_client):
    # when
    html = patient_client.get(reverse("portal:home")).text
    # then
    links = tabs(html)
    assert [link.attrs["data-tab"] for link in links] == PATIENT_TABS
    assert [link.attrs["href"] for link in links] == [
        reverse(name)
        for name in (
            "portal:home",
            "portal:inbox",
            "portal:appointments",
            "portal:preferences",
            "portal:more",
        )
    ]
    for link in links:
        [label] = link.find_all("span", "tab-label")
        assert label.text  # a label always, beside the icon
        for svg in link.find_all("svg"):
            assert svg.attrs["aria-hidden"] == "true"


@pytest.mark.parametrize(
    ("page", "current"),
    [
        ("portal:home", "home"),
        ("portal:inbox", "inbox"),
        ("portal:appointments", "appointments"),
        ("portal:waitlist", "appointments"),
        ("portal:preferences", "preferences"),
        ("portal:contact_details", "preferences"),
        ("portal:more", "more"),
        ("portal:feedback", "more"),
        ("portal:data", "more"),
        ("portal:data_access_log", "more"),
        ("portal:auth_devices", "more"),
    ],
)
def test_the_current_tab_is_marked_once(patient_client, page, current):
    html = patient_client.get(reverse(page)).text
    assert _current(html) == [current]


SCOPES = ("can_see_messages", "can_see_appointments", "can_manage_preferences")


@pytest.mark.parametrize(
    "granted", list(itertools.product([False, True], repeat=len(SCOPES)))
)
def test_a_caregiver_sees_only_the_tabs_of_their_scopes(client, organization, granted):
    # given
    scopes = dict(zip(SCOPES, granted, strict=True))
    link = CaregiverFactory(
        user=UserFactory(username="carer"),
        patient=PatientFactory(organization=organization, given_name="Lou"),
        can_see_results=True,
        **scopes,
    )
    client.force_login(link.user)
    session = client.session
    session["portal_acting_for"] = str(link.patient.public_id)
    session.save()
    # when
    html = client.get(reverse("portal:home")).text
    # then
    expected = ["home"]
    for key, scope in zip(
        ("inbox", "appointments", "preferences"), SCOPES, strict=True
    ):
        if scopes[scope]:
            expected.append(key)
    expected.append("more")
    assert _tab_keys(html) == expected
    assert len(expected) <= 5
    for key, name in (
        ("inbox", "portal:inbox"),
        ("appointments", "portal:appointments"),
        ("preferences", "portal:preferences"),
    ):
        if key not in expected:
            assert f'href="{reverse(name)}"' not in html
    # and each tab it shows opens
    for link in tabs(html):
        assert client.get(link.attrs["href"]).status_code == 200


def _more_links(html: str) -> list[str]:
    [listing] = parse(html).find_all("ul", "link-list")
    return [a.attrs["data-more"] for a in listing.find_all("a")]


def _forms(html: str, action: str) -> list:
    return [
        form
        for form in parse(html).find_all("form")
        if form.attrs.get("action") == action
    ]


def test_more_lists_the_rest_language_and_sign_out(patient_client):
    html = patient_client.get(reverse("portal:more")).text
    assert _more_links(html) == ["feedback", "data", "security"]
    main = parse(html).find_all("main")[0]
    # the language switch, and signing out, inside the page itself
    [language] = [f for f in main.find_all("form") if "language" in f.classes]
    assert language.attrs["action"] == reverse("set_language")
    assert [b.attrs["value"] for b in language.find_all("button")] == ["en"]
    [sign_out] = [
        f for f in main.find_all("form") if f.attrs["action"] == "/accounts/logout/"
    ]
    assert sign_out.find_all("button")[0].text in {"Sign out", "Se déconnecter"}


def test_more_for_a_caregiver_hides_what_a_proxy_may_not_use(client, caregiver):
    # given: the parent may read Lou's messages only
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    # when
    html = client.get(reverse("portal:more")).text
    # then
    assert _more_links(html) == ["security"]
    assert reverse("portal:feedback") not in html
    assert reverse("portal:data") not in html
    assert _tab_keys(html) == ["home", "inbox", "more"]


def test_more_for_a_caregiver_without_a_record_of_their_own(client, caregiver):
    client.force_login(caregiver.user)
    html = client.get(reverse("portal:more")).text
    assert _more_links(html) == ["security"]
    assert _tab_keys(html) == ["home", "more"]


def test_more_needs_a_sign_in(client):
    response = client.get(reverse("portal:more"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_sign_in_security_keeps_the_patients_tabs(patient_client):
    """A page whose view does not set the access still shows every tab."""
    html = patient_client.get(reverse("portal:auth_devices")).text
    assert _tab_keys(html) == PATIENT_TABS


def test_the_header_names_the_clinic_and_links_home(patient_client, organization):
    [brand] = parse(patient_client.get(reverse("portal:inbox")).text).find_all(
        "a", "brand"
    )
    assert brand.attrs["href"] == reverse("portal:home")
    # the clinic's name with its branding, "Liaison" without
    assert brand.text in {"Liaison", organization.name}
