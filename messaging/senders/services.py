"""Writes on sender identities: saving one with its secret (``messaging.credentials``
rotates the key)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from messaging.credentials import credentials_key_problem, secret_encrypt
from messaging.models import SenderIdentity


def sender_identity_secret_errors(
    *, identity: SenderIdentity, secret: str, clear_secret: bool
) -> dict[str, str]:
    """Field → why a secret change cannot be saved (empty when it can): a
    secret given without CREDENTIALS_KEY, or a secret kept without an
    account of the identity's own (a secret belongs to an account)."""
    errors: dict[str, str] = {}
    if secret and (problem := credentials_key_problem()):
        errors["secret"] = _(
            "The secret cannot be stored: %(problem)s Ask the platform's "
            "operator to set CREDENTIALS_KEY."
        ) % {"problem": problem}
    keeps_secret = bool(secret) or (
        bool(identity.secret_encrypted) and not clear_secret
    )
    if keeps_secret and not identity.account_id:
        errors["account_id"] = _(
            "A secret belongs to an account: name the account, or leave the "
            "secret blank to use the platform's."
        )
    return errors


@transaction.atomic
def sender_identity_save(
    *,
    identity: SenderIdentity,
    secret: str = "",
    clear_secret: bool = False,
) -> SenderIdentity:
    """Validate and save ``identity``; a non-empty ``secret`` replaces the
    stored one (encrypted under CREDENTIALS_KEY), ``clear_secret`` removes it,
    neither keeps it.

    Raises ValidationError: ``sender_identity_secret_errors``, or a field is
    invalid (``SenderIdentity.clean``: a number another organization uses
    with the provider…).
    """
    errors = sender_identity_secret_errors(
        identity=identity, secret=secret, clear_secret=clear_secret
    )
    if errors:
        raise ValidationError(errors)
    if secret:
        identity.secret_encrypted = secret_encrypt(secret)
    elif clear_secret:
        identity.secret_encrypted = ""
    identity.full_clean()
    identity.save()
    return identity
