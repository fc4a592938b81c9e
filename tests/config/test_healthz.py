"""/healthz tells a load balancer whether this process can serve."""

import copy

import pytest

from django.db import connections
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_reports_every_part_up(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "channels": "ok",
    }


@pytest.fixture
def stopped_database():
    """Point the default connection at a database server that is not there."""
    original = connections["default"]
    settings_dict = copy.deepcopy(original.settings_dict)
    if original.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-directory/liaison.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
    stopped = original.__class__(settings_dict, alias="default")
    connections["default"] = stopped
    yield
    stopped.close()
    connections["default"] = original


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, stopped_database):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["cache"]["status"] == "ok"
