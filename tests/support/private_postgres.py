"""A PostgreSQL server of a test's own: initdb in a temporary directory, a free
port, run as the ``postgres`` user. Restarted or stopped at will, unlike the
shared server on 5432, which no test may ever restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.processes import ROOT, free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(  # noqa: S603
        [*prefix, *command], check=True, capture_output=True, timeout=120
    )


class PrivatePostgres:
    """Started on creation; ``url`` for clients, ``restart``, ``stop``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="liaison-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        _as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
            "-o", options, "-w", "start",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut."""
        _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            _as_postgres(
                str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def manage(self, env: dict[str, str], *args: str) -> str:
        """Run ``python -m``/``manage.py`` arguments against this server;
        return their output."""
        done = subprocess.run(  # noqa: S603
            [sys.executable, *args],
            cwd=ROOT,
            env=env | {"DATABASE_URL": self.url},
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return done.stdout
