"""Redis that tests may break: a private server they stop and start again, an
address where nothing listens, and one that accepts and never answers.

Never the shared Redis on 6379: other engineers' runs and the browser tests
use it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

from tests.support.processes import free_port, wait_for_port

REDIS_SERVER = shutil.which("redis-server")


class PrivateRedis:
    """``redis-server`` on a free port, without persistence: stopped, it
    comes back empty, as a Redis restarted after a crash."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = tempfile.mkdtemp(prefix="liaison-redis-")
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Kill it: clients see refused connections from now on."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    try:
        yield redis
    finally:
        redis.close()


def refusing_url() -> str:
    """A Redis URL where nothing listens: every connection is refused."""
    return f"redis://127.0.0.1:{free_port()}/0"


@contextlib.contextmanager
def hanging_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never
    answers, as a server that hangs: clients wait for their read timeout.
    Closing it resets the waiting connections."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


UNREACHABLE = ["refused", "hanging"]  # the two ways a Redis is out


@contextlib.contextmanager
def unreachable_redis(kind: str) -> Iterator[str]:
    """The URL of a Redis that is out: ``refused`` (nothing listens) or
    ``hanging`` (accepts, never answers)."""
    if kind == "refused":
        yield refusing_url()
        return
    with hanging_port() as port:
        yield f"redis://127.0.0.1:{port}/0"
