"""docs/deploy.md's backup procedure, run: pg_dump the database, restore the
dump into a new database with pg_restore, and run the application on it: every
table holds the same rows, and the application reads them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from django.apps import apps
from django.db import connection

from clinic.services import access_audit_record
from consent.services import consent_grant
from messaging.services import message_send
from tests.clinic.factories import AppointmentFactory, PatientFactory
from tests.consent.factories import TopicFactory

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),  # pg_dump sees committed rows only
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the procedure is PostgreSQL's"
    ),
    pytest.mark.skipif(not shutil.which("pg_dump"), reason="no pg_dump"),
]

COUNT_EVERY_MODEL = """
import json
from django.apps import apps
models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
print(json.dumps({m._meta.label: m._base_manager.count() for m in models}))
"""


def _url(name: str) -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{settings['PORT'] or 5432}/{name}"


def _pg(tool: str, *args: str) -> None:
    """One of PostgreSQL's client programs, which must succeed."""
    subprocess.run([shutil.which(tool), *args], check=True)  # noqa: S603


def _counts() -> dict[str, int]:
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    return {m._meta.label: m._base_manager.count() for m in models}


@pytest.fixture
def restored_database():
    name = f"{connection.settings_dict['NAME']}_restored"
    admin = _url("postgres")
    _pg("dropdb", "--if-exists", "--force", "--maintenance-db", admin, name)
    yield name
    _pg("dropdb", "--if-exists", "--force", "--maintenance-db", admin, name)


def test_a_dump_restored_into_a_new_database_serves_the_same_rows(
    organization, tmp_path, restored_database
):
    # given: a clinic's data across apps
    topic = TopicFactory(organization=organization, slug="care", purpose="care")
    for index in range(3):
        patient = PatientFactory(organization=organization, given_name=f"Backup{index}")
        AppointmentFactory(patient=patient)
        consent_grant(patient=patient, topic=topic, channel="sms", source="staff")
        message_send(
            patient=patient, topic=topic, origin="staff", subject="S", text="T",
            channels=["inapp"],
        )  # fmt: skip
        access_audit_record(
            patient=patient, action="view_record", actor_label="Backup test"
        )
    before = _counts()
    dump = tmp_path / "liaison.dump"
    # when: the procedure of docs/deploy.md
    source = _url(connection.settings_dict["NAME"])
    _pg("pg_dump", "--format=custom", f"--file={dump}", source)
    _pg("createdb", "--maintenance-db", _url("postgres"), restored_database)
    _pg("pg_restore", "--no-owner", f"--dbname={_url(restored_database)}", str(dump))
    env = {
        **os.environ,
        "DATABASE_URL": _url(restored_database),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
    }
    migrations = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    counted = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", COUNT_EVERY_MODEL],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    # then: nothing to migrate, and every table holds what the source held
    assert migrations.returncode == 0, migrations.stdout + migrations.stderr
    after = json.loads(counted.stdout.strip().splitlines()[-1])
    assert after == before
    assert before["clinic.Patient"] == 3
    assert before["messaging.Message"] == 3
