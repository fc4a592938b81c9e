"""The settings module reads the environment, and refuses unsafe start-ups."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.subprocess_python import run_python

ROOT = Path(__file__).resolve().parents[2]


PRINT_SETTINGS = """
import json
from django.conf import settings
print(json.dumps({
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "cache_options": settings.CACHES["default"].get("OPTIONS"),
    "channels": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "channel_hosts": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "database": settings.DATABASES["default"]["ENGINE"],
    "broker_orm": settings.Q_CLUSTER.get("orm"),
}))
"""


def settings_with(**env: str) -> dict:
    result = run_python(PRINT_SETTINGS, SECRET_KEY="x", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_redis_url_cache_and_channel_layer_are_in_memory():
    found = settings_with()
    assert found["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert found["channels"] == "channels.layers.InMemoryChannelLayer"
    assert found["database"] == "django.db.backends.sqlite3"


def test_redis_url_switches_cache_and_channel_layer_to_redis():
    found = settings_with(REDIS_URL="redis://127.0.0.1:6379/3")
    # Redis, falling back to the process's memory while unreachable.
    assert found["cache"] == "core.cache.FailoverRedisCache"
    assert found["cache_location"] == "redis://127.0.0.1:6379/3"
    assert found["cache_options"] == {
        "RETRY_SECONDS": 5,
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
    }
    assert found["channels"] == "channels_redis.core.RedisChannelLayer"
    [host] = found["channel_hosts"]
    assert host["address"] == "redis://127.0.0.1:6379/3"
    # Longer than the layer's 5-second blocking pop (test_channel_layer.py),
    # but a Redis that does not answer a connection is given up quickly.
    assert host["socket_timeout"] > 5
    assert host["socket_connect_timeout"] == 0.5


def test_database_url_selects_postgresql_and_the_queue_stays_in_it():
    found = settings_with(DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    assert found["database"] == "django.db.backends.postgresql"
    assert found["broker_orm"] == "default"


def test_missing_secret_key_with_debug_off_refuses_to_start_in_one_line():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
        | {"DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Liaison cannot start: SECRET_KEY is not set and DEBUG is off: set "
        "SECRET_KEY (or DEBUG=true for local development)."
    ]


ENCRYPT_A_SECRET = """
import django
django.setup()
from messaging.credentials import secret_decrypt, secret_encrypt
print(secret_decrypt(secret_encrypt("whsec-demo")))
"""


def test_make_run_can_store_secrets_without_a_credentials_key():
    # given: the embedded defaults of `make run` (DEBUG on, no CREDENTIALS_KEY)
    result = run_python(ENCRYPT_A_SECRET, DEBUG="true", CREDENTIALS_KEY="")
    # then: a webhook secret can be stored and read back
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "whsec-demo"


def test_without_debug_a_credentials_key_is_required():
    result = run_python(ENCRYPT_A_SECRET, SECRET_KEY="x", CREDENTIALS_KEY="")
    assert result.returncode != 0
    assert "CREDENTIALS_KEY is not set" in result.stderr
