"""The demo data gives each demo clinic a key with a published secret (README)."""

import pytest

from api import demo
from api.models import ApiKey
from clinic.demo_data import ORGANIZATIONS
from tests.api.conftest import ApiClient
from tests.clinic.factories import OrganizationFactory, PatientFactory

pytestmark = pytest.mark.django_db


class Report:
    def __init__(self):
        self.counts = {}

    def count(self, name, created):
        self.counts[name] = self.counts.get(name, 0) + int(created)


def test_demo_key_reads_its_own_clinic_only():
    lilas = OrganizationFactory(slug=ORGANIZATIONS[0].slug)
    river = OrganizationFactory(slug=ORGANIZATIONS[1].slug)
    mine, theirs = (
        PatientFactory(organization=lilas),
        PatientFactory(organization=river),
    )
    report = Report()
    demo.seed(report=report)
    demo.seed(report=report)  # idempotent
    assert report.counts["API keys"] == 2
    client = ApiClient(demo.demo_key(lilas.slug))
    assert client.get(f"/api/v1/patients/{mine.public_id}/").status_code == 200
    assert client.get(f"/api/v1/patients/{theirs.public_id}/").status_code == 404


def test_demo_key_may_send_every_purpose_a_partner_may():
    OrganizationFactory(slug=ORGANIZATIONS[0].slug)
    demo.seed(report=Report())
    key = ApiKey.objects.get()
    assert sorted(key.purposes) == ["care", "feedback", "marketing"]
