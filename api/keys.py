"""Creating, checking and revoking API keys."""

import datetime
import hashlib
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.models import ApiKey
from api.scopes import scopes_parse
from clinic.models import Organization
from clinic.roles import (
    PURPOSES,
    SECURITY,
    PurposeNotAllowed,
    purpose_refusal,
    purposes_allowed,
    purposes_text,
)

# "lsn_" tells a leaked key apart in a secret scanner's eyes.
KEY_PREFIX = "lsn_"
# last_used_at is a hint, not an audit: one write a minute per key, not per request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
# Keys this process found recently: hash -> (monotonic expiry, key). Reading
# the key is a query per request otherwise, the dearest part of a cheap read
# (docs/api.md, Throughput). A save or delete here clears it at once; another
# process sees a revocation, a scope or an organization change within
# API_KEY_CACHE_SECONDS.
_recent: dict[str, tuple[float, ApiKey]] = {}
_RECENT_MAX = 10_000
_clock = time.monotonic  # the cache's clock (tests move it)


# Security topics are Liaison's own (messaging refuses them from the API).
KEY_PURPOSES = frozenset(PURPOSES) - {SECURITY}


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    name: str,
    scopes: str | list[str],
    created_by=None,
    rate_per_minute: int | None = None,
    purposes: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it and the secret, which is never shown again.

    ``purposes``: the topic purposes the key may send on; by default every
    one its creator's role may send (``clinic.roles.ROLE_PURPOSES``), or, with
    no creator (the ``create_api_key`` command, run by an operator), care,
    marketing and feedback. Raises ValueError for an empty name, an unknown
    scope or purpose, and PurposeNotAllowed for a purpose the creator's role
    may not send.
    """
    name = name.strip()
    if not name:
        raise ValueError("Give the key a name (who uses it).")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        organization=organization,
        name=name,
        scopes=scopes_parse(scopes),
        purposes=api_key_purposes_parse(purposes, created_by=created_by),
        prefix=raw[: len(KEY_PREFIX) + 8],
        key_hash=_hash(raw),
        created_by=created_by,
    )
    if rate_per_minute is not None:
        key.rate_per_minute = rate_per_minute
    key.full_clean()
    key.save()
    return key, raw


def api_key_purposes_allowed(created_by=None) -> frozenset[str]:
    """The purposes a key made by ``created_by`` (None: an operator) may have."""
    if created_by is None:
        return KEY_PURPOSES
    return purposes_allowed(created_by) & KEY_PURPOSES


def api_key_purposes_parse(
    purposes: list[str] | str | None, *, created_by
) -> list[str]:
    """The purposes checked against what the creator may grant; every one it
    may grant for None. ValueError for an unknown one, PurposeNotAllowed for
    one the creator's role may not send."""
    allowed = api_key_purposes_allowed(created_by)
    if purposes is None:
        return sorted(allowed)
    items = purposes.split(",") if isinstance(purposes, str) else list(purposes)
    wanted = sorted({item.strip() for item in items if item.strip()})
    unknown = [p for p in wanted if p not in PURPOSES]
    if unknown:
        raise ValueError(
            f"Unknown purpose(s): {', '.join(unknown)}. Known: {', '.join(PURPOSES)}."
        )
    for purpose in wanted:
        if purpose not in allowed:
            if created_by is None or purpose == SECURITY:
                raise PurposeNotAllowed(
                    "Security topics are sent by Liaison only, never with a key."
                )
            raise PurposeNotAllowed(purpose_refusal(created_by, purpose))
    return wanted


@transaction.atomic
def api_key_update(
    *,
    key: ApiKey,
    user,
    name: str,
    scopes: list[str],
    purposes: list[str],
    rate_per_minute: int,
) -> ApiKey:
    """Change a key's name, scopes, purposes and rate, as ``user``: the
    purposes are checked as at creation, against ``user``'s role."""
    key.name = name.strip()
    key.scopes = scopes_parse(scopes)
    key.purposes = api_key_purposes_parse(purposes, created_by=user)
    key.rate_per_minute = rate_per_minute
    key.full_clean()
    key.save()
    return key


def api_key_purpose_check(*, key: ApiKey, purpose: str) -> None:
    """Raise PurposeNotAllowed (the API answers 403) unless ``key`` may send
    topics of ``purpose``. Security topics are left to messaging, which
    refuses every partner system (400, as before keys had purposes)."""
    if key.may_send(purpose) or purpose == SECURITY:
        return
    from consent.vocabulary import Purpose

    raise PurposeNotAllowed(
        f"This API key may not send topics of the purpose "
        f"“{Purpose(purpose).label}”; it may send: "
        f"{purposes_text(set(key.purposes))}."
    )


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_cache_clear(**_signal_kwargs) -> None:
    """Forget the keys this process remembers (a key or organization changed)."""
    _recent.clear()


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key with this secret, or None; notes when it was last used."""
    if not raw.startswith(KEY_PREFIX):
        return None
    digest = _hash(raw)
    cached = _recent.get(digest)
    if cached is not None and cached[0] > _clock():
        key = cached[1]
    else:
        key = (
            ApiKey.objects.active()
            .select_related("organization")
            .filter(key_hash=digest)
            .first()
        )
        if key is None:
            _recent.pop(digest, None)
            return None
        if settings.API_KEY_CACHE_SECONDS > 0:
            if len(_recent) >= _RECENT_MAX:
                _recent.clear()
            _recent[digest] = (_clock() + settings.API_KEY_CACHE_SECONDS, key)
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
