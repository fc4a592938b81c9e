"""The production topology of deploy/, run on this machine.

Debian's nginx with a self-signed certificate in front of gunicorn (pages,
admin, API), daphne (``/ws/``) and two django-q2 worker clusters, on
PostgreSQL and Redis, in production settings (DEBUG off, HTTPS only). The
processes are started from the deploy files themselves:

- nginx from ``deploy/nginx/liaison.conf``, with only the values its ``EDIT``
  comments name replaced (ports, host name, certificate, logs, STATIC_ROOT);
- gunicorn, daphne and the workers from the ``ExecStart`` lines of
  ``deploy/systemd/*.service``, with ``/srv/liaison`` read as this checkout
  and ``${VARIABLES}`` from the environment file's values;
- the environment from ``deploy/liaison.env.example``, with this machine's
  database, Redis, addresses and fresh secrets.

Used by tests/e2e/test_topology.py; by hand::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python scripts/topology.py

prints the HTTPS address and runs until Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import shlex
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.demo_stack import free_port, stop_group, throwaway_database  # noqa: E402

DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/srv/liaison"
NGINX = os.environ.get("LIAISON_NGINX", "/usr/sbin/nginx")


@dataclass
class Topology:
    url: str  # https://localhost:<port>
    env: dict[str, str]
    workdir: Path
    ports: dict[str, int]  # http, https (nginx); web, ws (the application)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as systemd's EnvironmentFile reads them (no quoting)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit_command(unit: str, env: dict[str, str]) -> list[str]:
    """The ExecStart of ``deploy/systemd/<unit>``, for this checkout."""
    text = (DEPLOY / "systemd" / unit).read_text()
    [line] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    command = line.removeprefix("ExecStart=").replace(INSTALL_DIR, str(ROOT))
    # systemd expands ${NAME} from the environment file.
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], command)
    return shlex.split(command)


def render_nginx(
    site: Path, *, workdir: Path, ports: dict[str, int], static: Path
) -> str:
    """deploy/nginx/liaison.conf with the values its EDIT comments name set
    for this machine; every one must be found, so a changed deploy file
    fails here rather than running something else."""
    text = site.read_text()
    replacements = [
        ("server 127.0.0.1:8001;", f"server 127.0.0.1:{ports['web']};"),
        ("server 127.0.0.1:8002;", f"server 127.0.0.1:{ports['ws']};"),
        ("listen 80;", f"listen 127.0.0.1:{ports['http']};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports['https']} ssl http2;"),
        # One address family is enough here (and IPv6 may be off).
        ("    listen [::]:80;\n", ""),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("server_name liaison.example.org;", "server_name localhost;"),
        ("/etc/ssl/liaison/fullchain.pem", str(workdir / "cert.pem")),
        ("/etc/ssl/liaison/privkey.pem", str(workdir / "key.pem")),
        ("/var/log/nginx/liaison.access.log", str(workdir / "nginx-access.log")),
        ("/var/log/nginx/liaison.error.log", str(workdir / "nginx-error.log")),
        ("/srv/liaison/staticfiles/", f"{static}/"),
    ]
    for old, new in replacements:
        if old not in text:
            raise RuntimeError(f"deploy/nginx/liaison.conf no longer has {old!r}")
        text = text.replace(old, new)
    return text


def nginx_main_conf(workdir: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site: an http block."""
    temp = workdir / "nginx-temp"
    temp.mkdir(exist_ok=True)
    # Debian's runs workers as www-data; here, as whoever runs the script
    # (root's workers would otherwise be "nobody", who cannot read a
    # private temporary directory).
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "nginx-error.log"} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    sendfile on;
    include {site};
}}
"""


def self_signed_certificate(workdir: Path) -> None:
    subprocess.run(  # noqa: S603
        [
            "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


def environment(
    workdir: Path, ports: dict[str, int], database_url: str
) -> dict[str, str]:
    origin = f"https://localhost:{ports['https']}"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))
    }
    env.update(read_env_file(DEPLOY / "liaison.env.example"))
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        METRICS_TOKEN=secrets.token_urlsafe(20),
        CREDENTIALS_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        ALLOWED_HOSTS="localhost",
        CSRF_TRUSTED_ORIGINS=origin,
        SITE_URL=origin,
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        STATIC_ROOT=str(workdir / "static"),
        LIAISON_WEB_BIND=f"127.0.0.1:{ports['web']}",
        LIAISON_WS_PORT=str(ports["ws"]),
        WEB_CONCURRENCY="2",
        Q_WORKERS="1",
        # Codes and messages land in the outbox, where the journey reads them:
        # no provider on this machine.
        EMAIL_CHANNEL_BACKEND="messaging.backends.outbox.Backend",
        SMS_BACKEND="messaging.backends.outbox.Backend",
        VOICE_BACKEND="messaging.backends.outbox.Backend",
        CACHE_KEY_PREFIX=f"liaison-topology-{secrets.token_hex(4)}",
        # What the units' RuntimeDirectory gives a host.
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"),
    )
    (workdir / "metrics").mkdir(exist_ok=True)
    env["CHANNEL_LAYER_PREFIX"] = env["CACHE_KEY_PREFIX"]
    for name in ("EMAIL_HOST", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"):
        env.pop(name, None)
    return env


def manage(env: dict[str, str], *args: str, **extra: str) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        )


def self_signed_context() -> ssl.SSLContext:
    """A client context that accepts the topology's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def https_ready(
    url: str, processes: dict[str, subprocess.Popen], timeout: float
) -> None:
    context = self_signed_context()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
        with (
            contextlib.suppress(URLError, ConnectionError, TimeoutError),
            urlopen(f"{url}/healthz/ready", timeout=2, context=context),  # noqa: S310
        ):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{url}/healthz/ready did not answer within {timeout} s")


@contextlib.contextmanager
def topology(workdir: Path, *, seed: bool = True) -> Iterator[Topology]:
    """Start the topology; stop everything and drop its database on exit."""
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith(("postgres://", "postgresql://")):
        raise RuntimeError("the topology runs on PostgreSQL: set DATABASE_URL")
    ports = {name: free_port() for name in ("http", "https", "web", "ws")}
    database_url, drop = throwaway_database(workdir, database)
    running = Topology(
        url=f"https://localhost:{ports['https']}",
        env=environment(workdir, ports, database_url),
        workdir=workdir,
        ports=ports,
    )
    env = running.env
    try:
        subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "scripts" / "compile_catalogues.py")],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        # docs/deploy.md, "First installation": migrate, collect static files.
        manage(env, "migrate", "--no-input")
        manage(env, "collectstatic", "--no-input")
        if seed:  # the demo refuses to run without DEBUG
            manage(env, "seed_demo", DEBUG="true")
        self_signed_certificate(workdir)
        site = workdir / "liaison.conf"
        site.write_text(
            render_nginx(
                DEPLOY / "nginx" / "liaison.conf",
                workdir=workdir,
                ports=ports,
                static=workdir / "static",
            )
        )
        main = workdir / "nginx.conf"
        main.write_text(nginx_main_conf(workdir, site))
        commands = {
            "nginx": [NGINX, "-p", str(workdir), "-c", str(main), "-g", "daemon off;"],
            "web": unit_command("liaison-web.service", env),
            "ws": unit_command("liaison-ws.service", env),
            "worker-1": unit_command("liaison-worker@.service", env),
            "worker-2": unit_command("liaison-worker@.service", env),
        }
        for name, command in commands.items():
            log = (workdir / f"{name}.log").open("w")
            running.processes[name] = subprocess.Popen(  # noqa: S603
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        https_ready(running.url, running.processes, timeout=90)
        yield running
    finally:
        for process in running.processes.values():
            stop_group(process, timeout=20)
        drop()


def main() -> int:
    import tempfile

    with (
        tempfile.TemporaryDirectory(prefix="liaison-topology-") as tmp,
        topology(Path(tmp)) as running,
    ):
        print(f"Liaison over HTTPS at {running.url} (self-signed); Ctrl-C stops it.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
