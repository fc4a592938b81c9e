"""Shared set-up for benchmarks: Django, a throw-away database, one JSON line out.

Each benchmark creates its own database (``<name>_bench_<pid>``, on the server
named by DATABASE_URL, or a SQLite file), migrates it, builds its data, measures,
and drops it, so nothing it does touches real data.
"""

from __future__ import annotations

import argparse
import contextlib
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
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection.vendor
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


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
