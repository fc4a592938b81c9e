"""A stand-alone fake of Sinch's SMS batches API, for reliability tests and benchmarks.

It runs in its own process (``python -m tests.support.fake_sinch PORT``) so a
benchmark measures Liaison, not the fake sharing its interpreter. It counts every
batch by ``client_reference`` (how tests prove "exactly once"), answers
``GET /batches?client_reference=`` like Sinch (used to reconcile), and can be
switched to misbehave: ``POST /_mode`` with ``ok``, ``error`` (HTTP 500) or
``stall`` (no answer for 3 s, past the client's read timeout).
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"mode": "ok"}
SENT: Counter[str] = Counter()
BATCHES: dict[str, str] = {}  # client_reference -> batch id
LOCK = threading.Lock()
IDS = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle and the
    # client's delayed ACK add 40 ms to every request.
    disable_nagle_algorithm = True

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
                self._json(200, {"sent": dict(SENT), "mode": STATE["mode"]})
            return
        reference = urllib.parse.parse_qs(url.query).get("client_reference", [""])[0]
        with LOCK:
            batch = BATCHES.get(reference)
        batches = [{"id": batch, "client_reference": reference}] if batch else []
        self._json(200, {"batches": batches, "count": len(batches), "page": 0})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:
            # The sender died mid-request (a SIGKILLed worker): like a real
            # provider, accept nothing from a truncated request.
            return
        payload = json.loads(body or b"{}")
        if self.path == "/_mode":
            STATE["mode"] = payload["mode"]
            self._json(200, STATE)
            return
        mode = STATE["mode"]
        if mode == "error":
            self._json(500, {"code": "internal_error", "text": "try later"})
            return
        reference = payload.get("client_reference", "")
        if not reference:
            self._json(400, {"code": "syntax_invalid_json", "text": "no body"})
            return
        with LOCK:
            SENT[reference] += 1
            batch_id = f"batch-{next(IDS)}"
            BATCHES[reference] = batch_id
        if mode == "stall":
            time.sleep(3)  # accepted, but the answer comes too late
        self._json(201, {"id": batch_id, "client_reference": reference})


def serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
