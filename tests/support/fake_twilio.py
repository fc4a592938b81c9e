"""A stand-alone fake of Twilio's Messages API, for reliability tests.

``python -m tests.support.fake_twilio PORT``. ``POST
/2010-04-01/Accounts/{sid}/Messages.json`` (form-encoded ``To``, ``From`` or
``MessagingServiceSid``, ``Body``) answers a Message resource with its ``SM…``
SID; every message is counted by its ``To`` number (one per delivery in the
tests). ``GET …/Messages.json`` lists them like Twilio: newest first, filtered
by ``To``, ``From`` and the send date (``DateSent``, ``DateSent<``,
``DateSent>``: a day, inclusive), ``PageSize`` at a time, dates in RFC 2822.
Twilio keeps no reference of ours, so this list is how a send is reconciled;
``list_delay`` makes a new message show only some seconds after it was
accepted. Modes, delays and ``/_stats``: ``tests.support.fake_http``.
"""

from __future__ import annotations

import datetime
import email.utils
import sys
import urllib.parse
import uuid
from typing import Any

from tests.support.fake_http import Accepted, FakeHandler, serve


def _day(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


class Handler(FakeHandler):
    accepted: list[Accepted] = []

    def accept(self, body: bytes) -> tuple[Accepted, int, dict] | None:
        form = urllib.parse.parse_qs(body.decode())
        to, text = form.get("To", [""])[0], form.get("Body", [""])[0]
        sender = form.get("From", [""])[0]
        service = form.get("MessagingServiceSid", [""])[0]
        if not to or not text or not (sender or service):
            self._json(
                400,
                {"code": 21604, "message": "A 'To', 'Body' and 'From' are required"},
            )
            return None
        now = datetime.datetime.now(datetime.UTC)
        message = {
            "sid": f"SM{uuid.uuid4().hex}",
            "to": to,
            "from": sender or "+15005550006",
            "messaging_service_sid": service or None,
            "body": text,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "date_created": email.utils.format_datetime(now),
            "date_updated": email.utils.format_datetime(now),
            "date_sent": email.utils.format_datetime(now),
        }
        return Accepted(to, message, 0.0), 201, message

    def listing(
        self, query: dict[str, list[str]], visible: list[dict[str, Any]]
    ) -> dict[str, Any]:
        def wanted(message: dict[str, Any]) -> bool:
            sent_on = email.utils.parsedate_to_datetime(message["date_sent"]).date()
            checks = {
                "To": lambda v: message["to"] == v,
                "From": lambda v: message["from"] == v,
                "DateSent": lambda v: sent_on == _day(v),
                "DateSent>": lambda v: (day := _day(v)) is not None and sent_on >= day,
                "DateSent<": lambda v: (day := _day(v)) is not None and sent_on <= day,
            }
            return all(
                check(query[name][0]) for name, check in checks.items() if name in query
            )

        size = int(query.get("PageSize", ["50"])[0])
        messages = [m for m in reversed(visible) if wanted(m)][:size]
        return {"messages": messages, "page": 0, "page_size": size}


if __name__ == "__main__":
    serve(Handler, int(sys.argv[1]))
