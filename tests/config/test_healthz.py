"""/healthz tells a load balancer whether this process can serve, within a
second: the database is fatal, Redis only degrades."""

import copy
import threading
import time

import pytest

from django.db import connections
from django.urls import reverse

from config import health
from config.settings import redis_caches
from tests.support.redis import hanging_port, refusing_url

pytestmark = pytest.mark.django_db


def _probe(client):
    """(response, seconds it took)."""
    started = time.monotonic()
    response = client.get(reverse("healthz"))
    return response, time.monotonic() - started


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


def _database_at(monkeypatch, **changes) -> None:
    """Point the default database at another server, for the checks' own
    threads (each opens its connection from the configured settings)."""
    settings_dict = copy.deepcopy(connections.settings["default"])
    settings_dict.update(changes)
    monkeypatch.setitem(connections.settings, "default", settings_dict)


@pytest.fixture
def stopped_database(monkeypatch):
    """A database server that is not there."""
    if connections["default"].vendor == "sqlite":
        _database_at(monkeypatch, NAME="/nonexistent-directory/liaison.sqlite3")
    else:
        _database_at(monkeypatch, HOST="127.0.0.1", PORT="1")  # nothing on port 1


def test_healthz_is_503_when_the_database_is_down(client, stopped_database):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["cache"]["status"] == "ok"


@pytest.mark.parametrize("redis", ["refused", "hanging"])
def test_redis_unreachable_degrades_but_keeps_the_node_in(client, settings, redis):
    """Every node shares the one Redis: a 503 would take them all out at once
    while each can serve from its own memory. 200, "degraded", under a second."""
    # given: Redis refuses connections, or accepts and never answers
    with hanging_port() as port:
        url = refusing_url() if redis == "refused" else f"redis://127.0.0.1:{port}/0"
        settings.CACHES = redis_caches(url)
        # when
        response, seconds = _probe(client)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    cache = body["checks"]["cache"]
    assert cache["status"] == "degraded"
    assert cache["error"] in {"ConnectionError", "TimeoutError", "Timeout"}
    assert body["checks"]["database"]["status"] == "ok"
    assert seconds < 1


@pytest.fixture
def hanging_broker(monkeypatch):
    """A fatal dependency that hangs until the test ends; counts its calls."""
    release = threading.Event()
    calls = []

    def hang() -> dict:
        calls.append(1)
        release.wait(30)
        return {}

    monkeypatch.setitem(health.CHECKS, "broker", health.Check(hang, fatal=True))
    yield calls
    release.set()


def test_a_hanging_dependency_is_reported_within_a_second(client, hanging_broker):
    """The answer leaves at HEALTHZ_TIMEOUT whatever a check does, and probes
    meanwhile do not start another thread on the hung check."""
    # when: two probes while the broker hangs
    first, first_seconds = _probe(client)
    second, second_seconds = _probe(client)
    # then
    for response, seconds in ((first, first_seconds), (second, second_seconds)):
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["broker"] | {"ms": 0} == {
            "status": "down",
            "error": "Timeout",
            "ms": 0,
        }
        assert body["checks"]["database"]["status"] == "ok"
        assert seconds < 1
    assert len(hanging_broker) == 1


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="a database server"
)
def test_a_database_server_that_hangs_is_down_within_a_second(client, monkeypatch):
    """psycopg's connect_timeout cannot go below 2 s: the deadline bounds it."""
    # given: a "database server" that accepts and never answers
    with hanging_port() as port:
        _database_at(monkeypatch, HOST="127.0.0.1", PORT=str(port))
        # when
        response, seconds = _probe(client)
    # then
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["error"] == "Timeout"
    assert seconds < 1


def test_live_answers_without_touching_a_dependency(client, stopped_database):
    """Liveness restarts a stuck process: a database away is no reason to."""
    response = client.get(reverse("healthz_live"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_asks_the_database_the_queue_and_the_cache(client):
    response = client.get(reverse("healthz_ready"))
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "cache"}
    assert body["status"] == "ok"


def test_ready_is_503_when_the_database_is_down(client, stopped_database):
    response = client.get(reverse("healthz_ready"))
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "down"


def test_ready_stays_200_degraded_when_redis_is_away(client, settings):
    settings.CACHES = redis_caches(refusing_url())
    response = client.get(reverse("healthz_ready"))
    assert response.status_code == 200
    assert response.json()["checks"]["cache"]["status"] == "degraded"
