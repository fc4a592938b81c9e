"""The stack as `make run` starts it (catalogues compiled, web and a
django-q2 cluster, DEBUG on, demo data seeded), in a throwaway database and
on a free port.

Used by the browser tests (tests/e2e/conftest.py) and the Lighthouse audit
(scripts/lighthouse.py)::

    with demo_stack(workdir) as stack:
        urlopen(stack.url + "/healthz")

The database is an SQLite file in ``workdir``, or, when ``DATABASE_URL``
names a PostgreSQL server, a new database on that server, dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.run_stack import stack as run_stack_commands  # noqa: E402

# Variables of a test suite's own process that must not reach the stack.
SUITE_ONLY = {
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "CACHE_KEY_PREFIX",
    "CHANNEL_LAYER_PREFIX",
    "PYTEST_ADDOPTS",
    "SITE_URL",
    "HOST",
    "PORT",
}


@dataclass
class DemoStack:
    url: str
    env: dict[str, str]
    workdir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a process started with ``start_new_session`` and all it started.

    SIGTERM goes to the leader alone: ``qcluster`` then stops its own workers
    in a second or two. Sent to the whole group it kills the sentinel under
    the leader (whose SIGTERM handler is the default), and the leader then
    waits for it until the SIGKILL: 20 s lost at every stop. Whatever the
    leader leaves behind is killed with the group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def throwaway_database(workdir: Path, url: str) -> tuple[str, Callable[[], None]]:
    """(database URL, drop): PostgreSQL when ``url`` names it, else SQLite."""
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'demo.sqlite3'}", lambda: None
    import psycopg

    base, _, _ = url.rpartition("/")
    name = f"liaison_demo_{secrets.token_hex(4)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def wait_until_up(url: str, processes: list, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[2]} exited: {process.returncode}")
        try:
            with urlopen(f"{url}/accounts/login/", timeout=2):  # noqa: S310
                return
        except (URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"the web server did not answer within {timeout} s")


@contextlib.contextmanager
def demo_stack(workdir: Path, **settings: str) -> Iterator[DemoStack]:
    """Migrate and seed a throwaway database, start web and worker with
    `make run`'s commands (``run_stack.stack``), stop them and drop the
    database on exit. ``settings``: more environment for every process."""
    run = secrets.token_hex(4)
    env = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    env.update(
        DEBUG="true",
        SECRET_KEY=secrets.token_urlsafe(40),
        CACHE_KEY_PREFIX=f"liaison-demo-{run}",
        CHANNEL_LAYER_PREFIX=f"liaison-demo-{run}",
        Q_WORKERS="1",
        HOST="127.0.0.1",
        PORT=str(free_port()),
    )
    env.update(settings)
    env["DATABASE_URL"], drop = throwaway_database(
        workdir, os.environ.get("DATABASE_URL", "")
    )
    url, commands, env = run_stack_commands(env)
    stack = DemoStack(url=url, env=env, workdir=workdir)
    try:
        # As `make run` does first: the French pages need compiled catalogues.
        subprocess.run(  # noqa: S603 - our own script
            [sys.executable, str(ROOT / "scripts" / "compile_catalogues.py")],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        manage(env, "migrate", "--no-input")
        manage(env, "seed_demo")
        log = (workdir / "stack.log").open("w")
        for command in commands.values():
            stack.processes.append(
                subprocess.Popen(  # noqa: S603 - our own manage.py
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_until_up(url, stack.processes)
        yield stack
    finally:
        for process in stack.processes:
            stop_group(process, timeout=15)
        drop()
