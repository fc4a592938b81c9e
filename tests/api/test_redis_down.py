"""The partner API with Redis unreachable: never a 500. The rate limit counts
per web process (docs/api.md, "Rate limits with Redis down"); idempotency keys live in the
database and keep their promise."""

import datetime
import time

import pytest
import time_machine

from clinic.models import Patient
from config.settings import redis_caches
from tests.api.api_support import PATIENTS, assert_problem, new_patient
from tests.support.redis import UNREACHABLE, unreachable_redis

pytestmark = pytest.mark.django_db

MINUTE_START = datetime.datetime(2026, 3, 10, 10, 0, 5, tzinfo=datetime.UTC)


@pytest.fixture(params=UNREACHABLE)
def break_redis(request, settings):
    """Call it to make the cache's Redis refuse connections, or accept them
    and never answer."""
    with unreachable_redis(request.param) as url:

        def down() -> None:
            settings.CACHES = redis_caches(url)

        yield down


def test_the_api_answers_and_limits_per_process(make_client, break_redis):
    """200 within the key's rate, then 429 with Retry-After, counted in this
    process; no request waits on Redis for more than REDIS_TIMEOUT."""
    # given: a key allowed two requests a minute, a warm process, Redis down
    client, _key = make_client(rate_per_minute=2)
    make_client()[0].get(PATIENTS)
    break_redis()
    # when
    with time_machine.travel(MINUTE_START, tick=False):
        timed = []
        for _ in range(3):
            started = time.monotonic()
            response = client.get(PATIENTS)
            timed.append((response, time.monotonic() - started))
    # then
    assert [response.status_code for response, _ in timed] == [200, 200, 429]
    assert_problem(timed[2][0], 429)
    assert int(timed[2][0]["Retry-After"]) == 55
    assert max(seconds for _, seconds in timed) < 1


def test_an_idempotent_retry_is_replayed_without_redis(api, break_redis):
    """The keys are rows in PostgreSQL, never in the cache: a per-process
    memory would let a retry on another process write twice."""
    break_redis()
    headers = {"HTTP_IDEMPOTENCY_KEY": "ehr-sync-1"}
    first = api.post_json(PATIENTS, new_patient(), **headers)
    again = api.post_json(PATIENTS, new_patient(), **headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Patient.objects.filter(identifier="EHR-1").count() == 1
