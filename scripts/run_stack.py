"""Run web (ASGI), one django-q2 cluster and its scheduler in the foreground.

`make run` calls this after migrating and seeding. Ctrl-C (or SIGTERM) stops
every process and waits for each to exit; if one dies, the others are stopped
too, so nothing is left running in the background.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def banner(host: str, port: str) -> str:
    sys.path.insert(0, str(ROOT))
    from clinic.demo_data import DEMO_PASSWORD, demo_logins

    base = f"http://{host}:{port}"
    lines = [
        "",
        "Liaison is starting:",
        f"  admin           {base}/admin/",
        f"  health          {base}/healthz",
        f"  demo logins     (password: {DEMO_PASSWORD})",
    ]
    lines += [f"    {username:<24} {what}" for username, what in demo_logins()]
    lines += ["  Ctrl-C stops web, worker and scheduler.", ""]
    return "\n".join(lines)


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    manage = [PYTHON, str(ROOT / "manage.py")]
    commands = {
        "web": [*manage, "runserver", f"{host}:{port}", "--noreload"],
        # qcluster runs the workers and the scheduler of django-q2 together.
        "worker": [*manage, "qcluster"],
    }
    print(banner(host, port), flush=True)
    # Each child gets its own session: the terminal's Ctrl-C reaches only this
    # script, which then stops each child exactly once (django-q2 stops cleanly
    # on one signal but can hang when its processes get several).
    processes = {
        name: subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
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
