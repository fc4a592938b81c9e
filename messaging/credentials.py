"""Secrets at rest: encrypted with Fernet under ``CREDENTIALS_KEY``.

The one helper for every secret Liaison must keep readable (a hash cannot
sign or authenticate): sender identities' provider tokens
(``messaging.SenderIdentity``) and webhook signing secrets
(``api.WebhookSubscription``). Each app registers its encrypted columns
(``encrypted_column_register``) so one command re-encrypts them all.

Fernet (AES-128-CBC with an HMAC-SHA256 over it, from the ``cryptography``
package) refuses a token that was altered, so a secret read back is either
the one stored or an error. ``CREDENTIALS_KEY`` is a comma-separated list of
Fernet keys: the first encrypts, every one decrypts (MultiFernet), so a key
is rotated by putting the new one first, running
``manage.py secrets_rotate`` and then dropping the old one.

A key comes from the environment only, never from the database, so a copy of
the database alone gives away neither the clinics' provider accounts nor the
partners' webhook secrets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

# (model label, field) of every column that holds Fernet tokens.
_ENCRYPTED_COLUMNS: list[tuple[str, str]] = []


class CredentialsKeyMissing(ImproperlyConfigured):
    """No ``CREDENTIALS_KEY``: secrets can be neither stored nor read."""


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret that no key of ``CREDENTIALS_KEY`` decrypts (the key
    that encrypted it was removed, or the row was altered)."""


@functools.cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        # The message never quotes the key.
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY: each key must be 32 url-safe base64-encoded bytes "
            "(python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        ) from exc


def credentials_cipher() -> MultiFernet:
    """The cipher for ``settings.CREDENTIALS_KEY``.

    Raises CredentialsKeyMissing when no key is set, ImproperlyConfigured
    when one is malformed.
    """
    keys = tuple(key.strip() for key in settings.CREDENTIALS_KEY if key.strip())
    if not keys:
        raise CredentialsKeyMissing(
            "CREDENTIALS_KEY is not set: stored secrets (provider tokens, webhook "
            "signing secrets) cannot be stored or read."
        )
    return _cipher(keys)


def credentials_key_problem() -> str:
    """Why secrets cannot be stored now ("" when they can)."""
    try:
        credentials_cipher()
    except ImproperlyConfigured as exc:
        return str(exc)
    return ""


def secret_encrypt(plain: str) -> str:
    """The Fernet token (ASCII) of ``plain`` under the first key; raises as
    ``credentials_cipher`` does."""
    return credentials_cipher().encrypt(plain.encode()).decode()


def secret_decrypt(token: str) -> str:
    """``token`` decrypted with any key of ``CREDENTIALS_KEY``; raises
    SecretUnreadable when none can, CredentialsKeyMissing without a key."""
    return _readable(lambda cipher: cipher.decrypt(token.encode()))


def secret_rotate(token: str) -> str:
    """``token`` encrypted again under the first key; raises as ``secret_decrypt``."""
    return _readable(lambda cipher: cipher.rotate(token.encode()))


def _readable(use: Callable[[MultiFernet], bytes]) -> str:
    try:
        return use(credentials_cipher()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with CREDENTIALS_KEY"
        ) from exc


def encrypted_column_register(model_label: str, field: str) -> None:
    """Declare that ``model_label.field`` holds tokens of ``secret_encrypt``
    (blank when none): ``secrets_rotate`` and the E003 check cover it."""
    if (model_label, field) not in _ENCRYPTED_COLUMNS:
        _ENCRYPTED_COLUMNS.append((model_label, field))


def encrypted_columns() -> Iterator[tuple[type, str]]:
    """(model, field) of every registered encrypted column."""
    for label, field in _ENCRYPTED_COLUMNS:
        yield apps.get_model(label), field


def secrets_rotate() -> int:
    """Encrypt every stored secret of every registered column again under the
    first key of CREDENTIALS_KEY; returns how many. Raises SecretUnreadable
    when one cannot be decrypted with any key: nothing is changed then (one
    transaction)."""
    count = 0
    with transaction.atomic():
        for model, field in encrypted_columns():
            rows = list(
                model.objects.select_for_update()
                .exclude(**{field: ""})
                .only("pk", field)
            )
            for row in rows:
                setattr(row, field, secret_rotate(getattr(row, field)))
            model.objects.bulk_update(rows, [field], batch_size=500)
            count += len(rows)
    return count
