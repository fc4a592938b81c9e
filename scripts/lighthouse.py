"""Lighthouse on every portal page a signed-in patient can open.

    python scripts/lighthouse.py [--check] [--keep DIR]

Starts the stack as `make run` does (DEBUG on, demo data) in a throwaway
database (``scripts/demo_stack.py``: SQLite in a temporary directory, or a new
database on the PostgreSQL server ``DATABASE_URL`` names), signs the demo
patient ``lilas.patient`` in with the password and a one-time backup code (the
second factor), and runs Lighthouse 12.2.3 (mobile preset, Debian's Chromium,
``CHROME_PATH``) on each page with the session cookie.

The pages are read from the portal's URL patterns: every route of the
``portal`` namespace, with the demo patient's first appointment, message…
for its id, that answers a signed-in GET with an HTML page (downloads, JSON,
POST-only actions and redirects are not pages).

A page under a threshold is audited twice more and scored by the median of
its three runs (Lighthouse's advice for its run-to-run variance). Per-page
scores go to stderr; the last line on stdout is one JSON object:
the minimum over pages of ``accessibility``, ``best_practices`` and
``performance`` (0-100), the worst page of each, and ``pages``. Exit status
1 when a page fails to audit twice, or with ``--check`` when a minimum is below
its threshold (95, 95, 90).

Lighthouse is installed on first use with npm into ``.cache/lighthouse``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LIGHTHOUSE_VERSION = "12.2.3"
CACHE = ROOT / ".cache" / "lighthouse"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = {
    "accessibility": "accessibility",
    "best_practices": "best-practices",
    "performance": "performance",
}
THRESHOLDS = {"accessibility": 95, "best_practices": 95, "performance": 90}
PATIENT = "lilas.patient"
_PARAMETER = re.compile(r"<(?:\w+:)?\w+>")


# -- Pages: read from the URL patterns ------------------------------------


def portal_routes(resolver=None, prefix: str = "") -> list[str]:
    """Every route under the ``portal`` namespace, as ``/portal/inbox/<uuid:public_id>/``."""
    from django.urls import URLPattern, URLResolver, get_resolver

    resolver = resolver or get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += portal_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("portal/"):
            routes.append("/" + route)
    return routes


def id_key(route: str) -> str:
    """What a route's id names: the path before its first parameter,
    ``/portal/appointments/<uuid:public_id>/cancel/`` → ``appointments``."""
    return route.split("<", 1)[0].removeprefix("/portal/").strip("/")


def fill(route: str, ids: dict[str, str]) -> str | None:
    """The route with its parameter replaced by the demo patient's object of
    that kind, or None when the patient has none."""
    if "<" not in route:
        return route
    value = ids.get(id_key(route))
    return _PARAMETER.sub(value, route) if value else None


def pages(
    routes: Iterable[str],
    ids: dict[str, str],
    probe: Callable[[str], tuple[int, str]],
) -> tuple[list[str], dict[str, str]]:
    """(paths to audit, {route: why not}): the filled routes whose signed-in
    GET (``probe(path) -> (status, content type)``) answers 200 with HTML."""
    audit, skipped = [], {}
    for route in routes:
        path = fill(route, ids)
        if path is None:
            skipped[route] = f"the demo patient has no {id_key(route)} object"
            continue
        status, content_type = probe(path)
        if status == 200 and content_type.startswith("text/html"):
            audit.append(path)
        else:
            skipped[route] = f"GET answers {status} {content_type}".rstrip()
    return audit, skipped


# -- Scores -----------------------------------------------------------------


def scores(report: dict) -> dict[str, int]:
    """0-100 score of each category of one Lighthouse JSON report."""
    return {
        key: round(100 * (report["categories"][category]["score"] or 0))
        for key, category in CATEGORIES.items()
    }


def summary(per_page: dict[str, dict[str, int]]) -> dict:
    """The minimum of each category over pages, its worst page, and ``pages``."""
    result: dict = {}
    for key in CATEGORIES:
        worst = min(per_page, key=lambda path: per_page[path][key])
        result[key] = per_page[worst][key]
        result[f"worst_{key}"] = worst
    result["pages"] = len(per_page)
    return result


def below(result: dict) -> list[str]:
    """``category score < threshold`` for each category under its threshold."""
    return [
        f"{key} {result[key]} < {minimum}"
        for key, minimum in THRESHOLDS.items()
        if result[key] < minimum
    ]


def failing_audits(report: dict) -> list[str]:
    """Audits that cost points: ``id (score)`` per category, for stderr."""
    lines = []
    for category in report["categories"].values():
        for ref in category["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 0.9:
                lines.append(f"{category['id']}: {ref['id']} ({audit['score']})")
    return lines


# -- The demo patient, inside the stack's environment ------------------------


def prepare() -> dict:
    """A fresh backup code for the demo patient, their objects' ids and the
    portal's routes (run in the stack's environment: ``_prepare``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    from clinic.demo_data import DEMO_PASSWORD
    from clinic.models import Patient
    from messaging.inbox import inbox_message_queryset

    patient = Patient.objects.select_related("user").get(user__username=PATIENT)
    device, _ = StaticDevice.objects.get_or_create(
        user=patient.user, name="Lighthouse", defaults={"confirmed": True}
    )
    code = f"lh{secrets.token_hex(6)}"
    StaticToken.objects.create(device=device, token=code)
    # The first of each the patient sees: the next appointment, the newest message.
    appointment = patient.appointments.upcoming().order_by("starts_at").first()
    message = inbox_message_queryset(patient=patient).first()
    ids = {
        "appointments": appointment and str(appointment.public_id),
        "inbox": message and str(message.public_id),
    }
    return {
        "username": PATIENT,
        "password": DEMO_PASSWORD,
        "code": code,
        "ids": {key: value for key, value in ids.items() if value},
        "routes": portal_routes(),
    }


# -- Signing in over HTTP ----------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Session:
    """A browser-like HTTP session: cookies, CSRF tokens, redirects shown."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """(status, content type, body or Location) of one request."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)  # noqa: S310
        try:
            with self.opener.open(request, timeout=60) as response:
                return (
                    response.status,
                    response.headers.get("Content-Type", ""),
                    response.read().decode("utf-8", "replace"),
                )
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), ""

    def post_form(self, path: str, fields: dict) -> tuple[int, str]:
        """GET ``path`` for its CSRF token, POST ``fields``: (status, Location)."""
        _, _, page = self.request(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        fields = {"csrfmiddlewaretoken": token.group(1) if token else "", **fields}
        body = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=body)  # noqa: S310
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, ""
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", "")

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)


def sign_in(session: Session, username: str, password: str, code: str) -> None:
    """Password, then the backup code on the second-factor page."""
    status, location = session.post_form(
        "/accounts/login/", {"login": username, "password": password}
    )
    if status != 302:
        raise RuntimeError(f"sign-in: {status} {location}")
    status, location = session.post_form("/portal/security/verify/", {"token": code})
    if status != 302 or location.rstrip("/") != "/portal":
        raise RuntimeError(f"second factor: {status} {location}")


# -- Lighthouse --------------------------------------------------------------


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} not found: Lighthouse needs Node.js 18-20")
    return path


def lighthouse_bin() -> Path:
    """The pinned Lighthouse CLI, installed into .cache/lighthouse once."""
    cli = CACHE / "node_modules" / "lighthouse" / "cli" / "index.js"
    installed = CACHE / "node_modules" / "lighthouse" / "package.json"
    if not installed.exists() or (
        json.loads(installed.read_text())["version"] != LIGHTHOUSE_VERSION
    ):
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            [
                _program("npm"),
                "install",
                "--prefix",
                str(CACHE),
                "--no-audit",
                "--no-fund",
                f"lighthouse@{LIGHTHOUSE_VERSION}",
            ],
            check=True,
            stdout=sys.stderr,
        )
    return cli


def audit(cli: Path, url: str, cookie: str, output: Path) -> dict:
    """One Lighthouse run (mobile preset), its JSON report."""
    flags = "--headless=new --disable-gpu --no-first-run"
    if os.geteuid() == 0:
        flags += " --no-sandbox"  # root in a container: no user namespace
    completed = subprocess.run(  # noqa: S603
        [
            _program("node"),
            str(cli),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={output}",
            "--only-categories=" + ",".join(CATEGORIES.values()),
            f"--chrome-flags={flags}",
            "--extra-headers=" + json.dumps({"Cookie": cookie}),
        ],
        env={**os.environ, "CHROME_PATH": CHROME_PATH},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode or not output.exists():
        raise RuntimeError(completed.stderr[-2000:] or f"exit {completed.returncode}")
    report = json.loads(output.read_text())
    if report.get("runtimeError"):
        raise RuntimeError(report["runtimeError"]["message"])
    return report


def median_scores(runs: list[dict[str, int]]) -> dict[str, int]:
    """Each category's median over runs (the lower middle of an even count)."""
    return {
        key: sorted(run[key] for run in runs)[(len(runs) - 1) // 2]
        for key in CATEGORIES
    }


def _audit_page(cli: Path, base: str, path: str, cookie: str, reports: Path) -> dict:
    """A page's scores. A page under a threshold is audited twice more and
    scored by the median of its three runs, as Lighthouse advises for its
    run-to-run variance (the Total Blocking Time of a busy machine)."""
    runs = []
    for attempt in range(1, 4):
        report = _audit_twice(
            cli, base + path, cookie, reports / f"{_slug(path)}-{attempt}.json"
        )
        runs.append(scores(report))
        print(f"{path} {json.dumps(runs[-1])}", file=sys.stderr)
        for line in failing_audits(report):
            print(f"    {line}", file=sys.stderr)
        if attempt == 1 and not below(runs[0]):
            return runs[0]
    result = median_scores(runs)
    print(f"{path} median of 3 {json.dumps(result)}", file=sys.stderr)
    return result


def _audit_twice(cli: Path, url: str, cookie: str, output: Path) -> dict:
    """``audit``, run again once when Lighthouse fails (it asks for it: its
    trace recording fails now and then, NO_NAVSTART)."""
    try:
        return audit(cli, url, cookie, output)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"{url}: {error}; running Lighthouse again", file=sys.stderr)
        return audit(cli, url, cookie, output)


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "_") or "root"


def run(args: argparse.Namespace) -> int:
    from scripts.demo_stack import demo_stack

    cli = lighthouse_bin()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="liaison-lighthouse-") as tmp:
        workdir = Path(tmp)
        reports = Path(args.keep) if args.keep else workdir / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        with demo_stack(workdir) as stack:
            prepared = json.loads(
                subprocess.run(  # noqa: S603
                    [sys.executable, __file__, "_prepare"],
                    cwd=ROOT,
                    env=stack.env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.splitlines()[-1]
            )
            session = Session(stack.url)
            sign_in(
                session, prepared["username"], prepared["password"], prepared["code"]
            )
            paths, skipped = pages(
                prepared["routes"],
                prepared["ids"],
                lambda path: session.request(path)[:2],
            )
            for route, why in skipped.items():
                print(f"not a page: {route} ({why})", file=sys.stderr)
            per_page, failed = {}, []
            for path in paths:
                try:
                    per_page[path] = _audit_page(
                        cli, stack.url, path, session.cookie_header(), reports
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    failed.append(path)
                    print(f"FAILED {path}: {error}", file=sys.stderr)
    if not per_page:
        print("no page audited", file=sys.stderr)
        return 1
    result = summary(per_page)
    print(
        f"{len(per_page)} pages in {time.monotonic() - started:.0f} s", file=sys.stderr
    )
    print(json.dumps(result), flush=True)
    if failed:
        return 1
    if args.check and below(result):
        print("below the thresholds: " + ", ".join(below(result)), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv == ["_prepare"]:
        print(json.dumps(prepare()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 below 95/95/90")
    parser.add_argument("--keep", help="keep the JSON reports in this directory")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
