"""Shared set-up for benchmarks: Django, a throw-away database, one JSON line out.

Each benchmark creates its own database (``<name>_bench_<pid>``, on the server
named by DATABASE_URL, or a SQLite file), migrates it, builds its data, measures,
and drops it, so nothing it does touches real data.

On PostgreSQL the migrated schema is made once and kept as a template database
(``liaison_bench_schema_<digest>``, named after the migrations and the pinned
requirements): each benchmark's own database is a copy of it, a second instead
of half a minute of migrations, which is most of a smoke run's time in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = the size the issue names"
    )
    return parser.parse_args()


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    # Secrets at rest need a key with DEBUG off (messaging.E006); the worker
    # clusters a benchmark starts inherit it (tests.support.processes).
    os.environ.setdefault(
        "CREDENTIALS_KEY", "bGlhaXNvbi1iZW5jaC1vbmx5LWNyZWRlbnRpYWxzISE="
    )
    import django

    django.setup()


@contextlib.contextmanager
def bench_database(name: str) -> Iterator[str]:
    """Create, migrate and finally drop a database of its own; yield its vendor."""
    from django.db import connection

    test_name = f"{name}_bench_{os.getpid()}"
    if connection.vendor == "sqlite":
        test_name = str(ROOT / f".{test_name}.sqlite3")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = test_name
    if connection.vendor == "postgresql":
        old_name = _copy_of_schema(connection, test_name)
    else:
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection.vendor
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


SCHEMA_PREFIX = "liaison_bench_schema_"


def _schema_digest() -> str:
    """Names the schema: any change to a migration or a pinned version makes
    a new template, so a benchmark never runs on a stale schema."""
    digest = hashlib.sha256()
    for path in [
        *sorted(ROOT.glob("*/migrations/*.py")),
        ROOT / "requirements.txt",
    ]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _copy_of_schema(connection, test_name: str) -> str:
    """Create ``test_name`` as a copy of the migrated template (made first if
    missing); point the connection at it and return the original name."""
    template = SCHEMA_PREFIX + _schema_digest()
    old_name = connection.settings_dict["NAME"]
    # One builder at a time: benchmarks started side by side wait for the
    # first to migrate, then copy its template.
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [SCHEMA_PREFIX])
        try:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            if cursor.fetchone() is None:
                _drop_stale_templates(cursor, keep=template)
                # Built under another name and renamed once migrated, so an
                # interrupted build never leaves a template to copy.
                connection.settings_dict["TEST"]["NAME"] = f"{template}_building"
                connection.creation.create_test_db(
                    verbosity=0, autoclobber=True, serialize=False
                )
                connection.close()
                connection.settings_dict["NAME"] = old_name
                connection.settings_dict["TEST"]["NAME"] = test_name
                cursor.execute(
                    f'ALTER DATABASE "{template}_building" RENAME TO "{template}"'
                )
            cursor.execute(f'DROP DATABASE IF EXISTS "{test_name}"')
            cursor.execute(f'CREATE DATABASE "{test_name}" TEMPLATE "{template}"')
        finally:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [SCHEMA_PREFIX])
    connection.close()
    connection.settings_dict["NAME"] = test_name
    return old_name


def _drop_stale_templates(cursor, *, keep: str) -> None:
    cursor.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
        [SCHEMA_PREFIX + "%", keep],
    )
    for (stale,) in cursor.fetchall():
        cursor.execute(f'DROP DATABASE IF EXISTS "{stale}"')


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(result: dict) -> None:
    """The benchmark's one result line, last on standard output."""
    print(json.dumps(result), flush=True)
