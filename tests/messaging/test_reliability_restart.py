"""A database restart in the middle of a campaign, with real parts: a private
PostgreSQL server (the shared one on 5432 is never restarted), two real qcluster
processes, the fake Sinch counting what each of them sends."""

import json
import time

import psycopg
import pytest

from messaging.services.claims import CONFIRMATION_SECONDS
from tests.support.clusters import RELIABILITY, sms_env, wait_until
from tests.support.private_postgres import PrivatePostgres
from tests.support.processes import Cluster

# The reliability tests' marks (slow, PostgreSQL, real transactions).
pytestmark = RELIABILITY
RECIPIENTS = 4000


@pytest.fixture
def database():
    server = PrivatePostgres()
    yield server
    server.stop()


def statuses(url: str) -> dict[str, int]:
    """Deliveries by status in the private database, {} while it is down."""
    try:
        with psycopg.connect(url, connect_timeout=2) as db:
            rows = db.execute(
                "SELECT status, count(*) FROM messaging_delivery GROUP BY status"
            ).fetchall()
    except psycopg.OperationalError:
        return {}
    return dict(rows)


def test_after_a_database_restart_every_cluster_sends_again_within_a_minute(
    database, fake_sinch
):
    """Issue 17, item 7: deliveries whose worker lost its connection are not
    left to their leases; nothing is lost, nothing is sent twice."""
    # given: 4,000 SMS planned and queued in the private database; two
    # clusters with the default limits (a 300 s lease, 120 s per task), each
    # known to the provider by its own token; 0.2 s a call, so the campaign
    # lasts long enough to watch both recover
    fake_sinch.mode("ok", delay=0.2)
    env = sms_env(
        fake_sinch,
        DATABASE_URL=database.url,
        MESSAGING_LEASE_SECONDS="300",
        Q_TIMEOUT="120",
        Q_RETRY="300",
    )
    database.manage(env, "manage.py", "migrate", "--no-input")
    ids = json.loads(
        database.manage(
            env, "-m", "tests.support.planned", "sms", str(RECIPIENTS), "50"
        )
    )
    tokens = ("token-a", "token-b")
    clusters = [Cluster(env | {"SINCH_API_TOKEN": token}) for token in tokens]
    try:

        def sent() -> int:
            return len(fake_sinch.sent())

        # when: the server restarts (pg_ctl restart -m fast) a fifth of the way
        assert wait_until(lambda: sent() >= RECIPIENTS // 5, timeout=300)
        database.restart()
        restarted = time.time()

        # then: within a minute, each cluster sends what it claimed after the
        # restart (later than a confirmation made before it could last)
        def both_sending() -> bool:
            senders = fake_sinch.stats()["senders"]
            fresh = restarted + CONFIRMATION_SECONDS + 5
            return all(
                senders.get(f"Bearer {t}", {}).get("last", 0) > fresh for t in tokens
            )

        assert wait_until(both_sending, timeout=60 - (time.time() - restarted)), (
            fake_sinch.stats()["senders"]
        )
        # and all is sent well before a lease (300 s) could have run out
        assert wait_until(
            lambda: statuses(database.url) == {"sent": RECIPIENTS}, timeout=200
        ), statuses(database.url)
    finally:
        for cluster in clusters:
            cluster.stop()
    # and the provider counted every SMS once
    delivered = fake_sinch.sent()
    assert sorted(int(ref.removeprefix("liaison-")) for ref in delivered) == ids
    assert set(delivered.values()) == {1}
