"""The walk (issue 19): every portal page a signed-in patient can open, the
public pages that links in messages open, and the main staff pages — a
campaign taken from draft to approval to sending, the conversation desk, the
dashboard, the delivery log — in French and in English, at phone and desk
widths. Every page is checked for its language, saved as a screenshot
(``walk-<area>-<page>-<width>-<lang>.png``) and audited by axe-core: no
serious or critical finding.

The portal's pages come from its URL conf (``tests/e2e/pages.py``), so a new
page is walked without being listed. One stack, one browser; a browser
context per person, language and width, signed in once and kept for the
module. Controls are found by role and by their name in the language walked
(the project's own catalogues), not by CSS class, so a redesign keeps them.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field

import pytest

from django.utils import translation

from clinic.demo_data import DEMO_PASSWORD
from tests.e2e.conftest import (
    WIDTHS,
    admin_sign_in,
    axe_findings,
    new_page,
    portal_sign_in,
    screenshot,
)
from tests.e2e.pages import (
    LINK_PAGES,
    STAFF_PAGES,
    portal_path,
    portal_walk_names,
)

pytestmark = pytest.mark.e2e
LANGUAGES = ("fr", "en")
COMBOS = list(itertools.product(LANGUAGES, WIDTHS))
COMBO_IDS = [f"{lang}-{width}" for lang, width in COMBOS]
AUTHOR, APPROVER = "lilas.marketing", "lilas.admin"


def tr(lang: str, text: str) -> str:
    """``text`` as the catalogues say it in ``lang``: the name a control has."""
    with translation.override(lang):
        return translation.gettext(text)


@dataclass
class Walker:
    """A browser context (a person, in a language, at a width) that checks
    each page it opens: language, screenshot, axe. Findings are collected so
    that one run lists them all; ``done()`` fails with every one."""

    page: object
    stack: object
    lang: str
    width: str
    area: str
    findings: list[str] = field(default_factory=list)

    def open(self, path: str, name: str) -> None:
        response = self.page.goto(self.stack.url + path)
        content_type = response.headers.get("content-type", "")
        where = f"{name} ({path}): {response.status} {content_type}"
        assert response.ok, where
        assert content_type.startswith("text/html"), (
            f"{where}: a page that is not HTML belongs in "
            "tests/e2e/pages.py's NOT_WALKED_SIGNED_IN"
        )
        self.check(name)

    def check(self, name: str) -> None:
        label = f"walk-{self.area}-{name}-{self.width}-{self.lang}"
        lang = self.page.locator("html").get_attribute("lang") or ""
        if not lang.startswith(self.lang):
            self.findings.append(f"{label} ({self.page.url}): html lang={lang!r}")
        screenshot(self.page, label)
        self.findings.extend(
            f"{label} ({self.page.url}): {finding}"
            # Admin's forms.css imports widgets.css (conftest.axe_findings).
            for finding in axe_findings(self.page, preload=self.area != "staff")
        )

    def submit(self, name: str) -> None:
        """Press the button called ``name`` (in the walk's language) in the
        page's main content, and wait for the next page."""
        button = self.page.get_by_role("main").get_by_role(
            "button", name=tr(self.lang, name), exact=True
        )
        with self.page.expect_navigation():
            button.click()

    def problems(self) -> list[str]:
        """Browser errors and findings since the last call, then forgotten."""
        found = [f"browser error: {error}" for error in self.page.errors]
        found += self.findings
        self.page.errors.clear()
        self.findings.clear()
        return found

    def done(self) -> None:
        problems = self.problems()
        assert not problems, "\n".join(problems)


def _skip(name: str) -> None:
    return None


class Walkers:
    """Contexts kept for the module, by (who, language, width)."""

    def __init__(self, browser, stack) -> None:
        self.browser, self.stack = browser, stack
        self.contexts: dict[tuple, Walker] = {}
        self.staged: dict[tuple, dict] = {}

    def get(self, who: str, lang: str, width: str, area: str) -> tuple[Walker, bool]:
        """The walker, and whether it is new (not signed in yet)."""
        key = (who, lang, width)
        if key in self.contexts:
            walker = self.contexts[key]
            walker.area = area
            return walker, False
        context, page = new_page(
            self.browser, language=lang, accept_downloads=True, **WIDTHS[width]
        )
        # The language switcher's cookie: every page answers in ``lang``.
        context.add_cookies(
            [{"name": "django_language", "value": lang, "url": self.stack.url}]
        )
        walker = Walker(page, self.stack, lang, width, area)
        self.contexts[key] = walker
        return walker, True

    def once(self, *key: str) -> dict:
        """A stage step run once per module and remembered."""
        if key not in self.staged:
            self.staged[key] = self.stack.stage(*key)
        return self.staged[key]

    def patient(self, lang: str, width: str) -> tuple[Walker, dict]:
        """The walk's patient in ``lang``, signed in to the portal."""
        data = self.once("walk-patient", "--lang", lang)
        walker, new = self.get("patient", lang, width, "portal")
        if new:
            code = data["codes"][list(WIDTHS).index(width)]
            portal_sign_in(
                walker.page,
                self.stack,
                data["username"],
                data["password"],
                code,
                check=walker.check,
            )
        return walker, data

    def staff(self, username: str, lang: str, width: str) -> Walker:
        walker, new = self.get(username, lang, width, "staff")
        if new:
            code = self.stack.stage("staff-code", "--username", username)["code"]
            # The sign-in pages are the same for everyone: checked once.
            check = walker.check if username == APPROVER else _skip
            admin_sign_in(
                walker.page, self.stack, username, DEMO_PASSWORD, code, check=check
            )
        return walker

    def close(self) -> None:
        for walker in self.contexts.values():
            walker.page.context.close()


@pytest.fixture(scope="module")
def walkers(browser, stack):
    walkers = Walkers(browser, stack)
    yield walkers
    walkers.close()


@pytest.mark.parametrize(("lang", "width"), COMBOS, ids=COMBO_IDS)
def test_every_portal_page(stack, walkers, lang, width):
    # given: the walk's patient, signed in (the sign-in pages are checked)
    walker, data = walkers.patient(lang, width)
    names = portal_walk_names()
    assert {"home", "inbox", "appointments", "preferences", "data"} <= set(names)
    # when / then: every page the URL conf names
    for name in names:
        walker.open(portal_path(name, data["objects"]), name.replace("_", "-"))
    # The sign-out confirmation page, reached from the portal.
    walker.open("/accounts/logout/", "sign-out")
    walker.done()


def _answer_survey(walker: Walker) -> None:
    """An answer in each question group: the last choice of each."""
    main = walker.page.get_by_role("main")
    for group in main.get_by_role("group").all():
        choices = group.get_by_role("radio")
        if choices.count():
            choices.last.check()
            continue
        boxes = group.get_by_role("checkbox")
        if boxes.count():
            boxes.first.check()
    walker.submit("Send my answers")


@pytest.mark.parametrize(("lang", "width"), COMBOS, ids=COMBO_IDS)
def test_public_pages_and_links(stack, walkers, lang, width):
    walker, _new = walkers.get("visitor", lang, width, "public")
    # The authenticity check, and its answer for a code nobody sent.
    walker.open("/verify/", "verify")
    walker.page.get_by_role("main").get_by_role("textbox").fill("ZZZZ2345")
    walker.submit("Check")
    walker.check("verify-unknown-code")
    walker.open("/portal/signed-out/", "signed-out")
    # Links from messages, fresh for this language and width.
    links = stack.stage("walk-links", "--lang", lang)
    assert set(links) == set(LINK_PAGES)
    walker.open(links["enrol"], "enrol")
    walker.open(links["survey"], "survey")
    _answer_survey(walker)
    walker.check("survey-thanks")
    walker.open(links["unsubscribe"], "unsubscribe")
    walker.submit("Unsubscribe")
    walker.check("unsubscribed")
    walker.open(links["appointment_action"], "appointment-confirm-link")
    walker.submit("Yes, confirm")
    walker.check("appointment-confirmed-link")
    walker.open(links["slot_offer"], "slot-offer")
    walker.submit("Yes, I take it")
    walker.check("slot-taken")
    walker.done()


def _campaign_page(walkers, username: str, campaign: int, name: str) -> None:
    for lang, width in COMBOS:
        walker = walkers.staff(username, lang, width)
        walker.area = "staff"
        walker.open(f"/admin/campaigns/campaign/{campaign}/change/", name)


def _press(walker: Walker, label: str) -> None:
    button = walker.page.get_by_role("button", name=tr(walker.lang, label), exact=True)
    with walker.page.expect_navigation():
        button.click()


def test_a_campaign_from_draft_to_sending(stack, walkers):
    name = f"Walk {secrets.token_hex(3)}"
    # given: the marketing author on the new campaign form
    for lang, width in COMBOS:
        walkers.staff(AUTHOR, lang, width).open(
            "/admin/campaigns/campaign/add/", "campaign-add"
        )
    author = walkers.staff(AUTHOR, "en", "desk")
    # when: a draft is written and saved
    author.page.locator("#id_name").fill(name)
    author.page.locator("#id_topic").select_option(index=1)
    _press(author, "Save")
    campaign = stack.stage("campaign", "--name", name)
    assert campaign["status"] == "draft", campaign
    _campaign_page(walkers, AUTHOR, campaign["pk"], "campaign-draft")
    # when: submitted, then approved and scheduled by the administrator
    _press(author, "Submit for approval")
    _campaign_page(walkers, APPROVER, campaign["pk"], "campaign-awaiting-approval")
    approver = walkers.staff(APPROVER, "fr", "desk")
    _press(approver, "Approve")
    assert stack.stage("campaign", "--name", name)["status"] == "approved"
    _campaign_page(walkers, APPROVER, campaign["pk"], "campaign-approved")
    _press(approver, "Schedule")
    # then: the planner's tick starts sending it, and its progress shows
    deadline = time.monotonic() + 60
    while (status := stack.stage("campaign", "--name", name, "--plan")["status"]) in (
        "scheduled",
    ) and time.monotonic() < deadline:
        time.sleep(1)
    assert status in ("sending", "done"), status
    _campaign_page(walkers, APPROVER, campaign["pk"], "campaign-progress")
    problems = [p for w in walkers.contexts.values() for p in w.problems()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("lang", "width"), COMBOS, ids=COMBO_IDS)
def test_staff_desk_dashboard_and_delivery_log(stack, walkers, lang, width):
    # given: an SMS conversation with a patient
    data = walkers.once("conversation", "--lang", "fr")
    thread = walkers.once(
        "sms-in", "--patient", str(data["patient"]), "--text", "Bonjour, à jeudi ?"
    )["conversation"]
    walker = walkers.staff(APPROVER, lang, width)
    # when / then
    for name, path in STAFF_PAGES.items():
        walker.open(path, name)
        if name == "delivery-log":
            # The column that says why a delivery was not sent.
            from messaging.admin import DeliveryAdmin

            with translation.override(lang):
                label = str(DeliveryAdmin.why_not_sent.short_description)
            header = walker.page.get_by_role(
                "columnheader", name=re.compile(re.escape(label), re.IGNORECASE)
            )
            assert header.count() == 1, label
    walker.open(f"/admin/messaging/conversation/{thread}/conversation/", "thread")
    walker.done()
