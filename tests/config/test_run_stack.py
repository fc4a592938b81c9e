"""`make run` (scripts/run_stack.py): the web server listens on HOST:PORT and
every process, the worker that renders links included, gets SITE_URL set to
that address unless SITE_URL is given.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from django.test import override_settings

from feedback.services import survey_invite
from tests.feedback.conftest import organization, patient, survey  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "run_stack", ROOT / "scripts" / "run_stack.py"
)
run_stack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_stack)

# The suite's own environment, without what the tests below set.
_BASE = {
    k: v
    for k, v in os.environ.items()
    if k not in {"SITE_URL", "SITE_URL_FILE", "HOST", "PORT", "DJANGO_SETTINGS_MODULE"}
}


def test_port_gives_the_web_server_and_site_url():
    origin, commands, shared = run_stack.stack(_BASE | {"PORT": "8101"})
    assert origin == "http://127.0.0.1:8101"
    assert commands["web"][-2:] == ["127.0.0.1:8101", "--noreload"]
    # One environment for web and worker: the worker renders the links.
    assert shared["SITE_URL"] == "http://127.0.0.1:8101"


def test_defaults_and_wildcard_host():
    assert run_stack.stack(_BASE)[2]["SITE_URL"] == "http://127.0.0.1:8000"
    every = {"HOST": "0.0.0.0", "PORT": "9000"}  # noqa: S104 - never bound here
    origin, commands, shared = run_stack.stack(_BASE | every)
    assert commands["web"][-2] == "0.0.0.0:9000"
    # No browser opens 0.0.0.0: links name this machine's loopback address.
    assert shared["SITE_URL"] == origin == "http://127.0.0.1:9000"


def test_explicit_site_url_wins():
    given = {"PORT": "8101", "SITE_URL": "https://portal.example.org"}
    origin, _, shared = run_stack.stack(_BASE | given)
    assert shared["SITE_URL"] == "https://portal.example.org"
    assert origin == "http://127.0.0.1:8101"  # the banner still says where to look


def test_the_processes_settings_read_the_derived_site_url():
    """What the worker's settings see, in a child process as qcluster is."""
    _, _, shared = run_stack.stack(_BASE | {"PORT": "8101", "DEBUG": "true"})
    shared["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.SITE_URL)",
        ],
        cwd=ROOT,
        env=shared,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "http://127.0.0.1:8101"


@pytest.mark.django_db
def test_a_survey_link_uses_the_derived_site_url(survey, patient):  # noqa: F811
    _, _, shared = run_stack.stack(_BASE | {"PORT": "8101"})
    with override_settings(SITE_URL=shared["SITE_URL"]):
        invitation = survey_invite(survey=survey, patient=patient)
    assert "Votre avis : http://127.0.0.1:8101/s/" in invitation.message.body
