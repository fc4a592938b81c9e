"""``/api/v1/patients/``: what an EHR does to keep Liaison's patients in step."""

import datetime

import pytest

from django.core.management import CommandError, call_command
from django.utils import timezone

from api.models import ApiKey
from clinic.models import Patient
from tests.api.api_support import PATIENTS, assert_problem, new_patient
from tests.api.conftest import ApiClient
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_create_fills_organization_defaults(api, organization):
    response = api.post_json(PATIENTS, new_patient())
    assert response.status_code == 201
    body = response.json()
    patient = Patient.objects.get(public_id=body["id"])
    assert patient.organization == organization
    assert body["preferred_language"] == organization.default_language
    assert body["time_zone"] == organization.time_zone
    assert body["phone_is_mobile"] is True


def test_patch_updates_given_fields(api, patient):
    response = api.patch_json(f"{PATIENTS}{patient.public_id}/", {"given_name": "Anne"})
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.given_name == "Anne"


def test_upsert_by_identifier_creates_then_updates(api):
    url = f"{PATIENTS}by-identifier/EHR-77/"
    body = new_patient()
    del body["identifier"]
    created = api.put_json(url, body)
    assert created.status_code == 201
    assert created.json()["identifier"] == "EHR-77"
    updated = api.put_json(url, {**body, "family_name": "Durand"})
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert Patient.objects.get().family_name == "Durand"


def test_upsert_never_touches_another_organization(api, other_organization):
    stranger = PatientFactory(organization=other_organization, identifier="EHR-77")
    body = new_patient()
    del body["identifier"]
    assert api.put_json(f"{PATIENTS}by-identifier/EHR-77/", body).status_code == 201
    stranger.refresh_from_db()
    assert stranger.family_name != "Martin"


def test_list_filters_by_identifier_and_updated_since(api, organization):
    old = PatientFactory(organization=organization)
    Patient.objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=10)
    )
    recent = PatientFactory(organization=organization)
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    rows = api.get(PATIENTS, {"updated_since": since}).json()["results"]
    assert [row["id"] for row in rows] == [str(recent.public_id)]
    rows = api.get(PATIENTS, {"identifier": old.identifier}).json()["results"]
    assert [row["id"] for row in rows] == [str(old.public_id)]
    assert_problem(api.get(PATIENTS, {"updated_since": "last week"}), 400)


def test_cursor_pagination_walks_every_patient_once(api, organization):
    made = {str(PatientFactory(organization=organization).public_id) for _ in range(7)}
    seen, url = [], f"{PATIENTS}?limit=3"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert len(seen) == 7
    assert set(seen) == made


def test_create_api_key_command_prints_key_once(organization, capsys):
    call_command(
        "create_api_key",
        organization="north",
        name="Booking",
        scopes="patients:read,appointments:write",
    )
    raw = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(name="Booking")
    assert raw.startswith("lsn_")
    assert raw not in key.key_hash
    assert key.scopes == ["appointments:write", "patients:read"]
    assert ApiClient(raw).get(PATIENTS).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"organization": "nowhere", "scopes": "patients:read"}, "No organization"),
        (
            {"organization": "north", "scopes": "patients:read,everything"},
            "Unknown scope",
        ),
        ({"organization": "north", "scopes": ","}, "at least one scope"),
    ],
)
def test_create_api_key_command_errors(organization, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", name="X", **options)
    assert not ApiKey.objects.exists()
