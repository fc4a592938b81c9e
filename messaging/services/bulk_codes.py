"""What a page of the bulk form must not repeat: idempotency keys already
used and authenticity codes already given, looked up set-wise, and fresh
codes drawn in one call to the system's random source."""

from __future__ import annotations

import secrets

from django.db import connection

from messaging.models import CODE_ALPHABET, Message

UNIQUE_PER_ORGANIZATION = {"idempotency_key", "authenticity_code"}


def existing_values(organization_id: int, column: str, values: list[str]) -> set[str]:
    """Which of ``values`` the organization's messages already hold in
    ``column`` (one query)."""
    if column not in UNIQUE_PER_ORGANIZATION:
        raise ValueError(f"Not a per-organization unique column: {column!r}")
    if connection.vendor == "postgresql":
        # One array parameter: an IN list of thousands of literals costs more
        # to build and parse than the lookups themselves.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {column} FROM {Message._meta.db_table} "  # noqa: S608 - our own names, checked above
                f"WHERE organization_id = %s AND {column} = ANY(%s)",
                [organization_id, values],
            )
            return {value for (value,) in cursor.fetchall()}
    return set(
        Message.objects.filter(
            organization_id=organization_id, **{f"{column}__in": values}
        ).values_list(column, flat=True)
    )


def _new_codes(count: int) -> list[str]:
    """``count`` authenticity codes drawn like ``authenticity_code_new`` (8
    characters, uniform over CODE_ALPHABET) from one call to the system's
    random source."""
    size = len(CODE_ALPHABET)
    limit = 256 - 256 % size  # rejection keeps the draw uniform
    chars: list[str] = []
    needed = count * 8
    while len(chars) < needed:
        chars += [
            CODE_ALPHABET[b % size]
            for b in secrets.token_bytes(needed - len(chars) + 16)
            if b < limit
        ]
    return ["".join(chars[i : i + 8]) for i in range(0, needed, 8)]


def fresh_codes(organization_id: int, count: int) -> list[str]:
    """New authenticity codes clashing neither with the organization's existing
    ones nor with each other, drawn before the notices quote them."""
    codes = _new_codes(count)
    while True:
        taken = existing_values(organization_id, "authenticity_code", codes)
        seen: set[str] = set()
        clashes = []
        for index, code in enumerate(codes):
            if code in taken or code in seen:
                clashes.append(index)
            seen.add(code)
        if not clashes:
            return codes
        for index, code in zip(clashes, _new_codes(len(clashes)), strict=True):
            codes[index] = code
