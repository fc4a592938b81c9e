"""``Idempotency-Key`` on POST: a retry with the same body gets the first
answer back; the same key with another body is refused with 422; a retry
while the first request is still running is refused with 409.

The key is scoped to the API key that sent it. Server errors (5xx) are not
kept, so a retry after one runs again. Records are purged after a day
(``idempotency_purge``, scheduled by ``api.apps``).
"""

import datetime
import hashlib

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from api.models import ApiKey, IdempotencyRecord
from api.problems import Conflict, Unprocessable

HEADER = "Idempotency-Key"
KEEP_FOR = datetime.timedelta(days=1)
MAX_LENGTH = 255


class Replay(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised to short-circuit a view with the first answer."""

    def __init__(self, response: HttpResponse):
        self.response = response


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(
    *, api_key: ApiKey, key: str, fingerprint: str
) -> IdempotencyRecord:
    """Claim ``key`` for this request, or raise Replay / Conflict / Unprocessable."""
    if not key or len(key) > MAX_LENGTH:
        raise Unprocessable(f"{HEADER} must be 1 to {MAX_LENGTH} characters.")
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                api_key=api_key, key=key, request_hash=fingerprint
            )
    except IntegrityError:
        pass
    first = IdempotencyRecord.objects.get(api_key=api_key, key=key)
    if first.request_hash != fingerprint:
        raise Unprocessable(
            f"This {HEADER} was already used with a different request; "
            "use a new key for a new request."
        )
    if first.status_code is None:
        raise Conflict(
            f"A request with this {HEADER} is still being processed; retry later."
        )
    response = HttpResponse(
        bytes(first.response_body),
        status=first.status_code,
        content_type=first.content_type,
    )
    if first.location:
        response["Location"] = first.location
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def idempotency_finish(*, record: IdempotencyRecord, response: HttpResponse) -> None:
    """Keep the answer for replays; forget the key after a server error."""
    if response.status_code >= 500:
        record.delete()
        return
    record.status_code = response.status_code
    record.response_body = response.content
    record.content_type = response.get("Content-Type", "")
    record.location = response.get("Location", "")
    record.save(
        update_fields=["status_code", "response_body", "content_type", "location"]
    )


def idempotency_purge(*, now: datetime.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - KEEP_FOR
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
