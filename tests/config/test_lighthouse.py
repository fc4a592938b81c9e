"""scripts/lighthouse.py: the pages it audits are read from the portal's URL
patterns (every page a signed-in patient can open, nothing else), and its
last line is the minimum of each category over pages."""

import datetime
import json

import pytest

from django.utils import timezone

from scripts import lighthouse
from tests.clinic.factories import AppointmentFactory
from tests.portal.conftest import patient_client, patient_user  # noqa: F401 - fixtures
from tests.portal.inbox_support import inbox_message

pytestmark = pytest.mark.django_db

# Pages a patient opens from the portal's menus and cards: the discovery
# must find each of them (it may find more as the portal grows).
PATIENT_PAGES = {
    "/portal/",
    "/portal/inbox/",
    "/portal/inbox/{message}/",
    "/portal/appointments/",
    "/portal/appointments/{appointment}/cancel/",
    "/portal/appointments/waitlist/",
    "/portal/preferences/",
    "/portal/preferences/contact/",
    "/portal/feedback/",
    "/portal/data/",
    "/portal/data/erasure/",
    "/portal/data/objection/",
    "/portal/data/access/",
    "/portal/security/",
    "/portal/security/app/",
    "/portal/security/email/",
    "/portal/security/sms/",
    "/portal/security/backup-codes/",
}
# Answers that are no page: downloads, JSON, POST-only actions.
NOT_PAGES = {
    "/portal/appointments/{appointment}/calendar.ics",
    "/portal/appointments/{appointment}/confirm/",
    "/portal/data/export.json",
    "/portal/data/export.fhir.json",
    "/portal/inbox/{message}/reply/",
    "/portal/security/session/",
    "/portal/security/keep-alive/",
}


@pytest.fixture
def demo_ids(patient_user):  # noqa: F811
    _user, patient = patient_user
    appointment = AppointmentFactory(
        patient=patient, starts_at=timezone.now() + datetime.timedelta(days=2)
    )
    message = inbox_message(patient)
    return {"appointments": str(appointment.public_id), "inbox": str(message.public_id)}


def _probe(client):
    def probe(path):
        response = client.get(path)
        return response.status_code, response.get("Content-Type", "")

    return probe


def test_every_portal_page_a_patient_opens_is_audited(patient_client, demo_ids):  # noqa: F811
    # given
    ids = {"message": demo_ids["inbox"], "appointment": demo_ids["appointments"]}
    routes = lighthouse.portal_routes()
    # when
    audited, skipped = lighthouse.pages(routes, demo_ids, _probe(patient_client))
    # then
    assert {page.format(**ids) for page in PATIENT_PAGES} <= set(audited)
    assert not {page.format(**ids) for page in NOT_PAGES} & set(audited)
    # Every route is audited or says why not.
    assert len(audited) + len(skipped) == len(routes)
    assert skipped["/portal/data/export.json"].startswith(
        "GET answers 200 application/"
    )


def test_a_route_whose_object_the_patient_lacks_is_skipped_with_the_reason():
    # given
    routes = ["/portal/data/erasure/<uuid:public_id>/withdraw/"]
    # when
    audited, skipped = lighthouse.pages(routes, {}, lambda path: (200, "text/html"))
    # then
    assert audited == []
    assert skipped == {routes[0]: "the demo patient has no data/erasure object"}


def test_fill_uses_the_object_the_route_names():
    ids = {"inbox": "m-1", "appointments": "a-1"}
    assert (
        lighthouse.fill("/portal/inbox/<uuid:public_id>/", ids) == "/portal/inbox/m-1/"
    )
    assert (
        lighthouse.fill("/portal/appointments/<uuid:public_id>/cancel/", ids)
        == "/portal/appointments/a-1/cancel/"
    )
    assert (
        lighthouse.fill("/portal/appointments/waitlist/<uuid:public_id>/leave/", ids)
        is None
    )


def _report(accessibility, best_practices, performance):
    return {
        "categories": {
            "accessibility": {"score": accessibility},
            "best-practices": {"score": best_practices},
            "performance": {"score": performance},
        }
    }


def test_the_last_line_holds_the_minimum_of_each_category_over_pages():
    # given
    per_page = {
        "/portal/": lighthouse.scores(_report(1, 0.96, 0.91)),
        "/portal/inbox/": lighthouse.scores(_report(0.94, 1, 0.99)),
        "/portal/data/": lighthouse.scores(_report(0.99, 0.95, None)),
    }
    # when
    result = json.loads(json.dumps(lighthouse.summary(per_page)))
    # then
    assert result == {
        "accessibility": 94,
        "worst_accessibility": "/portal/inbox/",
        "best_practices": 95,
        "worst_best_practices": "/portal/data/",
        "performance": 0,
        "worst_performance": "/portal/data/",
        "pages": 3,
    }
    assert lighthouse.below(result) == ["accessibility 94 < 95", "performance 0 < 90"]


def test_a_page_run_three_times_is_scored_by_each_categorys_median():
    runs = [
        {"accessibility": 100, "best_practices": 96, "performance": 77},
        {"accessibility": 98, "best_practices": 100, "performance": 99},
        {"accessibility": 100, "best_practices": 95, "performance": 94},
    ]
    assert lighthouse.median_scores(runs) == {
        "accessibility": 100,
        "best_practices": 96,
        "performance": 94,
    }
