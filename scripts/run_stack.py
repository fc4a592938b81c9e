"""Run web (ASGI), one django-q2 cluster and its scheduler in the foreground.

`make run` calls this after migrating and seeding (`make seed` runs
``run_stack.py manage seed_demo``, with the same environment). Ctrl-C (or SIGTERM) stops
every process and waits for each to exit; if one dies, the others are stopped
too, so nothing is left running in the background.

``HOST`` and ``PORT`` (default 127.0.0.1:8000) say where the web server
listens. Links in messages are rendered by the worker, which cannot know that
address, so unless ``SITE_URL`` is set (environment or ``.env``) every process
gets ``SITE_URL`` set to the address the web server listens on.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# Addresses a server listens on but no browser can open.
_WILDCARDS = {"0.0.0.0", "::", "[::]"}  # noqa: S104 - compared, never bound here


def local_origin(host: str, port: str) -> str:
    """The origin a browser on this machine opens for a server on host:port."""
    return f"http://{'127.0.0.1' if host in _WILDCARDS else host}:{port}"


def stack(
    environ: Mapping[str, str],
) -> tuple[str, dict[str, list[str]], dict[str, str]]:
    """(local origin, command of each process, environment they all share).

    Pure: ``environ`` is the environment with ``.env`` already read into it,
    so an explicit ``SITE_URL`` from either wins over the derived one.
    """
    host = environ.get("HOST") or "127.0.0.1"
    port = environ.get("PORT") or "8000"
    origin = local_origin(host, port)
    manage = [PYTHON, str(ROOT / "manage.py")]
    commands = {
        "web": [*manage, "runserver", f"{host}:{port}", "--noreload"],
        # qcluster runs the workers and the scheduler of django-q2 together.
        "worker": [*manage, "qcluster"],
    }
    shared = dict(environ)
    if not shared.get("SITE_URL") and not shared.get("SITE_URL_FILE"):
        shared["SITE_URL"] = origin
    return origin, commands, shared


def banner(base: str, site_url: str) -> str:
    sys.path.insert(0, str(ROOT))
    from clinic.demo_data import DEMO_PASSWORD, demo_logins

    lines = [
        "",
        "Liaison is starting:",
        f"  admin           {base}/admin/",
        f"  health          {base}/healthz",
        f"  message links   {site_url}  (SITE_URL)",
        f"  demo logins     (password: {DEMO_PASSWORD})",
    ]
    lines += [f"    {username:<24} {what}" for username, what in demo_logins()]
    lines += ["  Ctrl-C stops web, worker and scheduler.", ""]
    return "\n".join(lines)


def main() -> int:
    import environ  # django-environ, as config/settings.py reads .env

    # The same reading settings does (the environment wins over .env), done
    # here first so that a SITE_URL, HOST or PORT in .env counts.
    environ.Env.read_env(ROOT / ".env")
    origin, commands, shared = stack(os.environ)
    if sys.argv[1:2] == ["manage"]:
        # `run_stack.py manage seed_demo`: a one-off command (`make seed`) with
        # the same SITE_URL, since the demo sends messages with links too.
        return subprocess.run(  # noqa: S603
            [PYTHON, str(ROOT / "manage.py"), *sys.argv[2:]], cwd=ROOT, env=shared
        ).returncode
    print(banner(origin, shared.get("SITE_URL", "")), flush=True)
    # Each child gets its own session: the terminal's Ctrl-C reaches only this
    # script, which then stops each child exactly once (django-q2 stops cleanly
    # on one signal but can hang when its processes get several).
    processes = {
        name: subprocess.Popen(command, cwd=ROOT, env=shared, start_new_session=True)  # noqa: S603
        for name, command in commands.items()
    }

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the others.")
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the child and all it started
            process.wait()
    print("Liaison stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
