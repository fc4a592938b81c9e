"""Creating, checking and revoking API keys."""

import datetime
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from api.models import ApiKey
from api.scopes import scopes_parse
from clinic.models import Organization

# "lsn_" tells a leaked key apart in a secret scanner's eyes.
KEY_PREFIX = "lsn_"
# last_used_at is a hint, not an audit: one write a minute per key, not per request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


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
) -> tuple[ApiKey, str]:
    """Create a key; return it and the secret, which is never shown again.

    Raises ValueError for an empty name or an unknown scope.
    """
    name = name.strip()
    if not name:
        raise ValueError("Give the key a name (who uses it).")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        organization=organization,
        name=name,
        scopes=scopes_parse(scopes),
        prefix=raw[: len(KEY_PREFIX) + 8],
        key_hash=_hash(raw),
        created_by=created_by,
    )
    if rate_per_minute is not None:
        key.rate_per_minute = rate_per_minute
    key.full_clean()
    key.save()
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key with this secret, or None; notes when it was last used."""
    if not raw.startswith(KEY_PREFIX):
        return None
    key = (
        ApiKey.objects.active()
        .select_related("organization")
        .filter(key_hash=_hash(raw))
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
