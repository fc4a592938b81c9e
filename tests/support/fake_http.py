"""What the stand-alone fake providers share (``fake_sinch``, ``fake_twilio``).

Each runs in its own process (``python -m tests.support.fake_<name> PORT``), so a
benchmark measures Liaison, not the fake sharing its interpreter. A fake counts
every accepted message by a key that names one delivery (how tests prove
"exactly once"), lists what it accepted like the provider does (used to
reconcile), and can be told to misbehave with ``POST /_mode`` and a JSON object
of any of:

- ``mode``: ``ok``; ``error`` (HTTP 500, nothing accepted); ``stall`` (accepted
  at once, answered ``stall`` seconds later: past the client's read timeout);
- ``delay``: seconds before answering an accepted message in ``ok`` mode (a
  slow provider: calls stay in flight);
- ``stall``: the stall in seconds (3);
- ``list_delay``: seconds before an accepted message shows in the lists (a
  provider whose lists lag behind what it accepted).

``GET /_stats`` answers ``sent`` (key → count), ``lookups`` (list requests
answered) and ``senders`` (Authorization header → count and time of the last
accepted message, ``time.time()``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STATE: dict[str, Any] = {"mode": "ok", "delay": 0.0, "stall": 3.0, "list_delay": 0.0}
SENT: Counter[str] = Counter()
SENDERS: dict[str, dict[str, float]] = {}
LOOKUPS: Counter[str] = Counter()
LOCK = threading.Lock()


class Accepted:
    """One message a fake accepted: its counting key, what lists show of it,
    and from when (``time.time()``)."""

    def __init__(self, key: str, listed: dict[str, Any], visible_at: float) -> None:
        self.key, self.listed, self.visible_at = key, listed, visible_at


class FakeHandler(BaseHTTPRequestHandler):
    """Subclasses implement ``accept`` (a send) and ``listing`` (a lookup)."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle and the
    # client's delayed ACK add 40 ms to every request.
    disable_nagle_algorithm = True
    accepted: list[Accepted] = []  # every subclass sets its own

    def log_message(self, *args: object) -> None:  # quiet
        return

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_stats":
            with LOCK:
                self._json(
                    200,
                    {
                        "sent": dict(SENT),
                        "lookups": sum(LOOKUPS.values()),
                        "senders": SENDERS,
                        "mode": STATE["mode"],
                    },
                )
            return
        query = urllib.parse.parse_qs(url.query)
        now = time.time()
        with LOCK:
            LOOKUPS["list"] += 1
            visible = [a.listed for a in self.accepted if a.visible_at <= now]
        self._json(200, self.listing(query, visible))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:
            # The sender died mid-request (a SIGKILLed worker): like a real
            # provider, accept nothing from a truncated request.
            return
        if self.path == "/_mode":
            with LOCK:
                STATE.update(json.loads(body))
            self._json(200, STATE)
            return
        mode = STATE["mode"]
        if mode == "error":
            self._json(500, {"code": "internal_error", "text": "try later"})
            return
        answer = self.accept(body)
        if answer is None:
            return  # ``accept`` answered a refusal itself
        accepted, status, payload = answer
        with LOCK:
            SENT[accepted.key] += 1
            accepted.visible_at = time.time() + STATE["list_delay"]
            self.accepted.append(accepted)
            sender = SENDERS.setdefault(
                self.headers.get("Authorization", ""), {"count": 0, "last": 0.0}
            )
            sender["count"] += 1
            sender["last"] = time.time()
        pause = STATE["stall"] if mode == "stall" else STATE["delay"]
        if pause:
            time.sleep(pause)  # accepted; the answer comes later
        self._json(status, payload)

    def accept(self, body: bytes) -> tuple[Accepted, int, dict] | None:
        """Parse a send: (what was accepted, HTTP status, answer), or answer
        a refusal and return None."""
        raise NotImplementedError

    def listing(
        self, query: dict[str, list[str]], visible: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The provider's answer to a list request over what it shows."""
        raise NotImplementedError


def serve(handler: type[FakeHandler], port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.serve_forever()
