"""Real processes for reliability tests: the fake provider and qcluster workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from scripts.demo_stack import stop_group

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class FakeProvider:
    """A fake provider (``tests.support.fake_http``) in its own process."""

    module = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", self.module, str(self.port)], cwd=ROOT
        )
        wait_for_port(self.port)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _call(self, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback only
            self.base_url + path, data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def stats(self) -> dict:
        """``sent``, ``lookups`` and ``senders`` (see tests.support.fake_http)."""
        return self._call("/_stats")

    def sent(self) -> dict[str, int]:
        return self.stats()["sent"]

    def mode(self, mode: str, **options: float) -> None:
        """``ok``, ``error`` or ``stall``, with ``delay``, ``stall``, ``list_delay``."""
        self._call("/_mode", {"mode": mode, **options})

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class FakeSinch(FakeProvider):
    """``tests.support.fake_sinch``: counts batches by client reference."""

    module = "tests.support.fake_sinch"

    def env(self, **extra: str) -> dict[str, str]:
        """The settings that send SMS to it."""
        return {
            "SMS_BACKEND": "messaging.backends.sms.sinch.SmsBackend",
            "SINCH_BASE_URL": self.base_url,
            "SINCH_SERVICE_PLAN_ID": "plan",
            "SINCH_API_TOKEN": "token",
            "SINCH_WEBHOOK_SECRET": "secret",
            **extra,
        }


class FakeTwilio(FakeProvider):
    """``tests.support.fake_twilio``: counts messages by the number sent to."""

    module = "tests.support.fake_twilio"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "SMS_BACKEND": "messaging.backends.sms.twilio.SmsBackend",
            "TWILIO_BASE_URL": self.base_url,
            "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
            "TWILIO_AUTH_TOKEN": "token",
            **extra,
        }


def cluster_env(**extra: str) -> dict[str, str]:
    """The environment of a worker cluster using the test database."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": settings.SECRET_KEY,  # task packages are signed with it
        # Stored secrets (sender tokens) are read with the suite's keys; and
        # with DEBUG off the cluster's system checks want one (messaging.E006).
        "CREDENTIALS_KEY": ",".join(settings.CREDENTIALS_KEY),
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECURE_SSL_REDIRECT": "false",
    }
    return env | extra


class Cluster:
    """``manage.py qcluster`` (workers and scheduler) in its own process group."""

    def __init__(self, env: dict[str, str], log: Path | None = None) -> None:
        """``log``: a file for the cluster's output (to read why a test failed)."""
        output = log.open("ab") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        )
        if log:
            output.close()  # the child keeps its own descriptor

    def kill(self) -> None:
        """SIGKILL the cluster and every worker: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def freeze(self) -> None:
        """SIGSTOP the cluster and every worker: a stall, as under starvation."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.thaw()  # a frozen cluster would never hear SIGTERM
        stop_group(self.process)
