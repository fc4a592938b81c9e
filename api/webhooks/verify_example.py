import hashlib
import hmac
import time

TOLERANCE_SECONDS = 5 * 60


def verify_liaison_signature(
    secret: str, header: str, body: bytes, now: float | None = None
) -> bool:
    """True when ``body`` (the raw request body, as bytes) was signed by
    Liaison with ``secret`` less than five minutes ago.

    ``header`` is the Liaison-Signature header: t=<unix time>,v1=<hex>.
    """
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False  # too old (or from the future): a replayed request
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)
