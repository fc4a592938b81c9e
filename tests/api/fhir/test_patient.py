"""Patient: read and search (identifier, names, birth date, last update),
paged, audited, scoped to the key's organization."""

import datetime

import pytest

from django.utils import timezone

from clinic.models import AccessAudit, Patient
from tests.api.fhir.conftest import BASE, fhir_ok, fhir_valid
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db

SEARCH = BASE + "Patient"


def ids(bundle):
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_read_is_a_valid_patient_and_audited(api, patient):
    # when
    body = fhir_ok(api.get(f"{BASE}Patient/{patient.public_id}"))
    # then
    assert body["resourceType"] == "Patient"
    assert body["id"] == str(patient.public_id)
    assert body["identifier"][0]["value"] == patient.identifier
    assert body["meta"]["lastUpdated"]
    assert body["managingOrganization"]["display"] == "North clinic"
    audit = AccessAudit.objects.get(patient=patient)
    assert audit.actor_label == "API key EHR sync"
    assert audit.detail == "API: FHIR Patient"


def test_search_by_identifier_with_or_without_system(api, organization, patient):
    PatientFactory(organization=organization)
    system = f"urn:liaison:org:{organization.slug}:patient"
    for value in (patient.identifier, f"{system}|{patient.identifier}"):
        bundle = fhir_ok(api.get(SEARCH, {"identifier": value}))
        assert bundle["type"] == "searchset"
        assert bundle["total"] == 1
        assert ids(bundle) == [str(patient.public_id)]
        assert bundle["entry"][0]["fullUrl"].endswith(
            f"/fhir/r4/Patient/{patient.public_id}"
        )
        fhir_valid(bundle["entry"][0]["resource"])
    other_system = fhir_ok(
        api.get(SEARCH, {"identifier": f"urn:x|{patient.identifier}"})
    )
    assert other_system["total"] == 0
    assert "entry" not in other_system


def test_search_by_names_and_birth_date(api, organization):
    martin = PatientFactory(
        organization=organization,
        family_name="Martin",
        given_name="Jeanne",
        birth_date=datetime.date(1980, 2, 3),
    )
    PatientFactory(
        organization=organization,
        family_name="Martinez",
        given_name="Paul",
        birth_date=datetime.date(1990, 7, 1),
    )
    PatientFactory(
        organization=organization,
        family_name="Durand",
        birth_date=datetime.date(1970, 1, 1),
    )
    assert len(ids(fhir_ok(api.get(SEARCH, {"family": "mart"})))) == 2
    assert ids(fhir_ok(api.get(SEARCH, {"family:exact": "Martin"}))) == [
        str(martin.public_id)
    ]
    assert ids(fhir_ok(api.get(SEARCH, {"family": "mart", "given": "jea"}))) == [
        str(martin.public_id)
    ]
    assert ids(fhir_ok(api.get(SEARCH, {"birthdate": "1980-02-03"}))) == [
        str(martin.public_id)
    ]
    assert ids(fhir_ok(api.get(SEARCH, {"birthdate": "1980"}))) == [
        str(martin.public_id)
    ]
    before_1985 = fhir_ok(api.get(SEARCH, {"family": "mart", "birthdate": "lt1985"}))
    assert ids(before_1985) == [str(martin.public_id)]
    # Repeated: AND; comma: OR.
    both = api.get(f"{SEARCH}?birthdate=ge1980-01-01&birthdate=lt1981-01-01")
    assert ids(fhir_ok(both)) == [str(martin.public_id)]
    either = fhir_ok(api.get(SEARCH, {"birthdate": "1980-02-03,1990-07-01"}))
    assert len(ids(either)) == 2


def test_search_by_last_updated(api, organization):
    old = PatientFactory(organization=organization)
    Patient.objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=10)
    )
    recent = PatientFactory(organization=organization)
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    bundle = fhir_ok(api.get(SEARCH, {"_lastUpdated": f"ge{since}"}))
    assert ids(bundle) == [str(recent.public_id)]


def test_search_pages_with_next_link_and_total(api, organization, other_organization):
    made = {str(PatientFactory(organization=organization).public_id) for _ in range(5)}
    PatientFactory(organization=other_organization)
    seen = []
    url = f"{SEARCH}?_count=2"
    pages = 0
    while url:
        bundle = fhir_ok(api.get(url))
        assert bundle["total"] == 5
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert links["self"].startswith("http")
        seen += ids(bundle)
        url = links.get("next")
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(made)


def test_search_audits_each_patient_of_the_page(api, organization):
    patients = [PatientFactory(organization=organization) for _ in range(3)]
    fhir_ok(api.get(SEARCH, {"_count": 2}))
    audited = set(AccessAudit.objects.values_list("patient_id", flat=True))
    assert len(audited) == 2
    assert audited <= {p.pk for p in patients}


def test_search_query_count_does_not_grow_with_the_page(
    api, organization, django_assert_max_num_queries
):
    for _ in range(10):
        PatientFactory(organization=organization)
    with django_assert_max_num_queries(12):
        fhir_ok(api.get(SEARCH))
