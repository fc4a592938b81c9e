"""*My data* → the summary to read and print, and its PDF, on a phone in
French and English: the page passes axe-core and the strict CSP (the phone
fixture fails on any console error), its Print button appears (a static
script), and the PDF downloads under a name without the patient's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import axe_check, portal_sign_in, screenshot

pytestmark = pytest.mark.e2e
TEXT = {
    "fr": {"title": "Résumé de vos données", "print": "Imprimer"},
    "en": {"title": "Summary of your data", "print": "Print"},
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_summary_reads_prints_and_downloads(stack, phone, lang):
    data = stack.stage("conversation", "--lang", lang)
    portal_sign_in(phone, stack, data["username"], data["password"], data["code"])
    phone.goto(stack.url + "/portal/data/")
    with phone.expect_navigation():
        phone.click("main a[href$='/portal/data/summary/']")
    assert phone.locator("html").get_attribute("lang") == lang
    assert TEXT[lang]["title"] in phone.locator("h1").inner_text()
    assert phone.get_by_role("button", name=TEXT[lang]["print"]).is_visible()
    axe_check(phone, f"data-summary-{lang}")
    screenshot(phone, f"data-summary-{lang}")

    with phone.expect_download() as download_info:
        phone.click("a[href$='/portal/data/summary.pdf']")
    download = download_info.value
    assert re.fullmatch(
        r"liaison-summary-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename
    )
    assert Path(download.path()).read_bytes().startswith(b"%PDF")
