"""Browser tests: the stack as `make run` starts it (web under daphne, a
django-q2 cluster), in its own database, driven by Playwright in Debian's
Chromium at phone width.

They are skipped when Chromium is missing, unless E2E_REQUIRED=1 (set by
.ci/run, which installs Chromium with apt): CI never skips them silently.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.demo_stack import demo_stack, stop_group

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LIAISON_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
# Browser context options per width: a phone (touch, high density) or a desk.
WIDTHS = {
    "phone": {
        "viewport": PHONE,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desk": {"viewport": DESK},
}


def pytest_collection_modifyitems(config, items):
    available = Path(CHROMIUM).exists()
    try:
        import playwright  # noqa: F401
    except ImportError:
        available = False
    if available or os.environ.get("E2E_REQUIRED") == "1":
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@dataclass
class Stack:
    """The running stack and the server-side steps of a scenario."""

    url: str
    env: dict
    log: Path
    stager: subprocess.Popen | None = None

    def stage(self, *args: str, timeout: float = 120) -> dict:
        """One step in ``tests.e2e.stage``'s process (``serve``), started at
        the first step and kept: a new process per step spent most of a
        journey starting Django."""
        if self.stager is None or self.stager.poll() is not None:
            self.stager = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.stage", "serve"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log.open("a"),
                text=True,
                start_new_session=True,
            )
        self.stager.stdin.write(json.dumps(args) + "\n")
        self.stager.stdin.flush()
        ready, _, _ = select.select([self.stager.stdout], [], [], timeout)
        line = self.stager.stdout.readline() if ready else ""
        if not line:
            stop_group(self.stager, timeout=5)
            raise AssertionError(
                f"stage {args[0]}: no answer in {timeout} s (see {self.log})"
            )
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"stage {args[0]} failed:\n{reply['error']}")
        return reply["result"]

    def outbox_wait(self, to: str, after: int = 0, timeout: float = 30) -> dict:
        """The newest outbox entry for ``to`` (the worker sends it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.stage("outbox", "--to", to, "--after", str(after))
            if entry:
                return entry
            time.sleep(0.2)
        raise AssertionError(f"nothing reached the outbox for {to} in {timeout} s")

    def code_wait(self, to: str, after: int = 0) -> tuple[str, int]:
        entry = self.outbox_wait(to, after)
        match = re.search(r"\b(\d{6})\b", entry["body"])
        assert match, "no six-digit code in the message"
        return match.group(1), entry["id"]


@pytest.fixture(scope="package")
def stack(tmp_path_factory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("e2e")
    with demo_stack(workdir) as demo:
        stack = Stack(url=demo.url, env=demo.env, log=workdir / "stage.log")
        try:
            yield stack
        finally:
            if stack.stager is not None:
                stop_group(stack.stager, timeout=15)
            shutil.rmtree(workdir / "static", ignore_errors=True)


@pytest.fixture(scope="package")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # Root in a container has no user namespace for Chromium's sandbox.
            args=["--no-sandbox"],
        )
        yield browser
        browser.close()


class PageErrors(list):
    """Console errors (CSP violations included) and uncaught exceptions."""


def new_page(browser, *, language: str, **options):
    """A fresh browser context and page in ``language`` that records console
    errors (CSP violations included), uncaught exceptions and HTTP errors."""
    context = browser.new_context(
        locale={"fr": "fr-FR", "en": "en-GB"}[language], **options
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = PageErrors()
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.errors = errors
    return context, page


@pytest.fixture
def phone(browser, request):
    """A fresh phone-sized browser context in the test's language."""
    language = getattr(request, "param", None) or request.node.callspec.params["lang"]
    context, page = new_page(
        browser, language=language, accept_downloads=True, **WIDTHS["phone"]
    )
    yield page
    context.close()
    assert not page.errors, f"browser errors: {page.errors}"


@pytest.fixture
def desk(browser):
    """A fresh desktop browser context in English: a staff member in admin."""
    context, page = new_page(browser, language="en", **WIDTHS["desk"])
    yield page
    context.close()
    assert not page.errors, f"browser errors: {page.errors}"


def _no_check(name: str) -> None:
    return None


def portal_sign_in(
    page, stack, username: str, password: str, code: str, check=_no_check
) -> None:
    """Sign in to the portal with a password and a backup code (the second
    factor); ends on the portal's home page. ``check(name)`` is called on
    each page on the way (``login``, ``second-factor``)."""
    page.goto(stack.url + "/accounts/login/")
    check("login")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) button[type=submit]").click()
    assert "/portal/security/verify/" in page.url, page.url
    check("second-factor")
    page.fill("input[name=token]", code)
    with page.expect_navigation():
        page.locator("form:has(input[name=token]) button[type=submit]").click()
    assert page.url.rstrip("/").endswith("/portal"), page.url


def admin_sign_in(
    page, stack, username: str, password: str, code: str, check=_no_check
) -> None:
    """Sign in to admin: the password on the first page, then, on a page of
    its own, a code from the demo backup-code device. ``check(name)`` is
    called on each page on the way (``admin-login``, ``admin-second-factor``)."""
    page.goto(stack.url + "/admin/login/")
    check("admin-login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "/admin/login/second-factor/" in page.url, page.url
    check("admin-second-factor")
    option = page.locator("select[name=otp_device] option", has_text="Backup codes")
    page.select_option("select[name=otp_device]", value=option.get_attribute("value"))
    page.fill("input[name=otp_token]", code)
    with page.expect_navigation():
        page.click("input[type=submit]:not([name])")
    if not page.url.rstrip("/").endswith("/admin"):
        raise AssertionError(page.locator("#content-main").inner_text())


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def axe_findings(page, *, preload: bool = True) -> list[str]:
    """The serious and critical axe-core violations on this page, one line
    each: rule id, impact, help, the first few elements.

    ``preload=False`` for pages whose style sheets ``@import`` others (Django
    admin's forms.css): axe fetches those itself and inlines them in
    ``<style>`` elements, which the CSP refuses (a console error), and
    resolves the import against the page's address (a 404). Only the
    orientation-lock rule reads the preloaded sheets."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"resultTypes": ["violations"], "preload": preload}
    results = Axe().run(page, options=options)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(str(node["target"][0]) for node in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def axe_check(page, name: str) -> None:
    """No serious or critical axe-core violation on this page."""
    bad = axe_findings(page)
    assert not bad, f"axe on {name} ({page.url}):\n" + "\n".join(bad)


def page_check(page, name: str, lang: str) -> None:
    """The page is in ``lang``, passes axe, and is saved as ``name-lang``."""
    assert page.locator("html").get_attribute("lang") == lang
    axe_check(page, f"{name}-{lang}")
    screenshot(page, f"{name}-{lang}")
