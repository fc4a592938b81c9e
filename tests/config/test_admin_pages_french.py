"""A French staff member reads the main admin lists in French: no column
header is left in English ("CREATED AT", "ATTEMPTS", issue 19), and the demo's
topics, surveys and teams appear under their French names."""

import re

import pytest

from django.contrib.admin.templatetags.admin_list import result_headers
from django.core.management import call_command
from django.utils import translation

from campaigns.models import Campaign
from clinic.models import StaffMember
from consent.models import Topic
from tests.support.french import SAME_IN_FRENCH

pytestmark = pytest.mark.django_db

MAIN_LISTS = [
    "clinic/patient",
    "clinic/appointment",
    "messaging/delivery",
    "campaigns/campaign",
    "conversations/conversation",
    "consent/topic",
    "feedback/survey",
    "clinic/team",
]
# Headers the issue saw in English in the French admin.
KNOWN_ENGLISH = ["Created at", "Attempts", "Updated at", "Public id", "Provider"]


@pytest.fixture
def french_staff(client, settings):
    """The French demo clinic's administrator, reading admin in French."""
    settings.DEBUG = True  # seed_demo refuses to run otherwise
    call_command("seed_demo", verbosity=0)
    member = StaffMember.objects.select_related("user", "organization").get(
        user__username="lilas.admin"
    )
    Campaign.objects.create(
        organization=member.organization,
        topic=Topic.objects.get(
            organization=member.organization, slug="vaccination-campaigns"
        ),
        name="Grippe 2026",
        author=member.user,
    )
    client.force_login(member.user)
    return client


def _headers(response, language: str) -> list[str]:
    with translation.override(language):
        return [str(h["text"]) for h in result_headers(response.context["cl"])]


def _shown(text: str, html: str) -> bool:
    """``text`` is the whole content of an element of ``html``."""
    return re.search(rf">\s*{re.escape(text)}\s*<", html, re.IGNORECASE) is not None


def test_main_lists_have_french_headers(french_staff):
    for page in MAIN_LISTS:
        # when
        response = french_staff.get(f"/admin/{page}/", HTTP_ACCEPT_LANGUAGE="fr")
        # then
        assert response.status_code == 200, page
        html = response.content.decode()
        assert response.context["cl"].result_count > 0, page  # headers are shown
        french = [h for h in _headers(response, "fr") if h]
        assert french, page
        assert [h for h in french if not _shown(h, html)] == [], page
        left = [
            header
            for header in _headers(response, "en") + KNOWN_ENGLISH
            if header and header.lower() not in SAME_IN_FRENCH and _shown(header, html)
        ]
        assert left == [], page


def test_french_clinic_lists_its_demo_data_by_french_names(french_staff):
    """Topics have both names (the topic list shows both columns); surveys
    and teams, named for staff only, are named in French."""
    # when
    pages = {
        page: french_staff.get(
            f"/admin/{page}/", HTTP_ACCEPT_LANGUAGE="fr"
        ).content.decode()
        for page in (
            "consent/topic",
            "messaging/message",
            "feedback/survey",
            "clinic/team",
        )
    }
    # then
    assert "Rappels de rendez-vous" in pages["consent/topic"]
    # A topic reads in the staff member's language wherever it is named.
    assert "Rappels de rendez-vous" in pages["messaging/message"]
    assert "Appointment reminders" not in pages["messaging/message"]
    assert "Après votre visite" in pages["feedback/survey"]
    assert "After your visit" not in pages["feedback/survey"]
    assert "Relations patients" in pages["clinic/team"]
    assert "Patient relations" not in pages["clinic/team"]
