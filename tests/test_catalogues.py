"""Every patient- and staff-facing string exists in French and English."""

import re
from pathlib import Path

import polib
import pytest

from django.utils import translation

LOCALE = Path(__file__).resolve().parents[1] / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


@pytest.fixture(scope="module")
def french():
    return polib.pofile(str(LOCALE / "fr/LC_MESSAGES/django.po"))


def test_french_catalogue_is_complete(french):
    untranslated = [e.msgid for e in french if not e.obsolete and not e.translated()]
    assert untranslated == []


def test_french_translations_keep_their_placeholders(french):
    mismatched = [
        e.msgid
        for e in french
        if e.translated()
        and sorted(PLACEHOLDER.findall(e.msgid))
        != sorted(PLACEHOLDER.findall(e.msgstr or e.msgstr_plural.get(0, "")))
    ]
    assert mismatched == []


def test_compiled_french_catalogue_is_used():
    with translation.override("fr"):
        assert translation.gettext("The appointment must end after it starts.") == (
            "Le rendez-vous doit se terminer après son début."
        )
