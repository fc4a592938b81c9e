"""A stand-alone fake of Sinch's SMS batches API, for reliability tests and benchmarks.

``python -m tests.support.fake_sinch PORT``. It counts every batch by
``client_reference`` and answers ``GET /batches?client_reference=`` like Sinch
(used to reconcile). Modes, delays and ``/_stats``: ``tests.support.fake_http``.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

from tests.support.fake_http import Accepted, FakeHandler, serve

IDS = itertools.count(1)


class Handler(FakeHandler):
    accepted: list[Accepted] = []

    def accept(self, body: bytes) -> tuple[Accepted, int, dict] | None:
        payload = json.loads(body or b"{}")
        reference = payload.get("client_reference", "")
        if not reference:
            self._json(400, {"code": "syntax_invalid_json", "text": "no body"})
            return None
        batch_id = f"batch-{next(IDS)}"
        listed = {"id": batch_id, "client_reference": reference}
        return Accepted(reference, listed, 0.0), 201, listed

    def listing(
        self, query: dict[str, list[str]], visible: list[dict[str, Any]]
    ) -> dict[str, Any]:
        reference = query.get("client_reference", [""])[0]
        batches = [b for b in visible if b["client_reference"] == reference][-1:]
        return {"batches": batches, "count": len(batches), "page": 0}


if __name__ == "__main__":
    serve(Handler, int(sys.argv[1]))
