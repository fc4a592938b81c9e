"""System checks for ``MESSAGING_BACKENDS`` (``manage.py check``).

- messaging.E001: a backend path cannot be imported.
- messaging.W001: a development backend (console, file, locmem, outbox) runs
  with DEBUG off, so nothing reaches patients.
- messaging.W002: a backend reports itself unavailable (missing credentials).
- messaging.E002: ``CREDENTIALS_KEY`` holds a malformed key.
- messaging.W003 (with ``--database``): organizations without a sender
  identity for a provider a channel uses: their SMS and calls fail.
- messaging.E003 (with ``--database``): stored secrets (``messaging.credentials``:
  provider tokens, webhook signing secrets) that no key of ``CREDENTIALS_KEY``
  decrypts (or no key at all): those senders cannot send, those webhooks
  cannot be signed.
- messaging.E004: ``MESSAGING_LEASE_SECONDS`` is shorter than django-q2's
  task timeout (``Q_CLUSTER["timeout"]``): a claim would lapse while the
  task that holds it may still run.
- messaging.E005: the task timeout leaves no time for one provider call
  (the backend's connect and read timeouts) and the recording after it.
- messaging.E006: no ``CREDENTIALS_KEY`` with ``DEBUG`` off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils.module_loading import import_string

DEVELOPMENT_PROVIDERS = {"console", "file", "locmem", "outbox"}


def _configs(
    label: str, config: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The configuration and, for a failover backend, its members'."""
    yield label, config
    options = config.get("OPTIONS") or {}
    for role in ("primary", "secondary"):
        if isinstance(options.get(role), dict):
            yield from _configs(f"{label}['OPTIONS'][{role!r}]", options[role])


def _check_backend(
    channel: str, label: str, config: dict[str, Any]
) -> list[CheckMessage]:
    path = config.get("BACKEND", "")
    try:
        backend_class = import_string(path)
    except ImportError:
        return [
            checks.Error(
                f"{label}['BACKEND'] cannot be imported: {path!r}.",
                hint="Use a dotted path to a class in messaging.backends.",
                id="messaging.E001",
            )
        ]
    provider = getattr(backend_class, "provider", "")
    messages: list[CheckMessage] = []
    if provider in DEVELOPMENT_PROVIDERS and not settings.DEBUG:
        messages.append(
            checks.Warning(
                f"{label} uses the {provider} backend with DEBUG off: "
                f"nothing sent on {channel} reaches patients.",
                hint="Configure a provider backend for production.",
                id="messaging.W001",
            )
        )
    return messages


@register("messaging")
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, W001 and W002 for every channel's backend (failover members too)."""
    from messaging.backends import get_backend

    messages: list[CheckMessage] = []
    for channel, config in getattr(settings, "MESSAGING_BACKENDS", {}).items():
        found = []
        for label, member in _configs(f"MESSAGING_BACKENDS[{channel!r}]", config):
            found.extend(_check_backend(channel, label, member))
        messages.extend(found)
        if any(m.is_serious() for m in found):
            continue
        available, why = get_backend(channel).is_available()
        if not available:
            messages.append(
                checks.Warning(
                    f"MESSAGING_BACKENDS[{channel!r}] is unavailable: {why}.",
                    hint="Set the provider's environment variables.",
                    id="messaging.W002",
                )
            )
    return messages


# What a secret no key decrypts stops, per model (E003).
UNREADABLE_EFFECT = {
    "messaging.SenderIdentity": "those organizations cannot send.",
    "api.WebhookSubscription": "those subscriptions cannot sign their webhooks.",
}


@register("messaging")
def check_credentials_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002 for a malformed CREDENTIALS_KEY; E006 for none in production
    (``DEBUG`` off), where webhook subscriptions and sender identities
    cannot keep their secrets without one. In development an empty key is
    fine until a secret is stored."""
    from messaging.credentials import CredentialsKeyMissing, credentials_cipher

    try:
        credentials_cipher()
    except CredentialsKeyMissing as exc:
        if settings.DEBUG:
            return []
        return [
            checks.Error(
                str(exc),
                hint="Set CREDENTIALS_KEY to one Fernet key (python -c 'from "
                "cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'), or several, "
                "comma-separated, while rotating.",
                id="messaging.E006",
            )
        ]
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="messaging.E002")]
    return []


@register("messaging", checks.Tags.database)
def check_sender_identities(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """W003 and E003; they read the database, so they run with ``migrate`` and
    ``manage.py check --database default``, not with every command."""
    if not databases:
        return []
    from clinic.models import Organization
    from messaging.credentials import encrypted_columns, secret_decrypt
    from messaging.senders.selectors import organizations_without_sender

    messages: list[CheckMessage] = []
    try:
        missing = organizations_without_sender(Organization.objects.all())
    except DatabaseError:  # not migrated yet
        return []
    for provider, organizations in missing.items():
        slugs = ", ".join(o.slug for o in organizations[:10])
        more = f" and {len(organizations) - 10} more" if len(organizations) > 10 else ""
        messages.append(
            checks.Warning(
                f"{len(organizations)} organization(s) have no {provider} sender "
                f"identity ({slugs}{more}): their SMS and calls through {provider} "
                "fail (no_sender) and fall back to the next channel.",
                hint="Add one per organization in admin (Messaging → Sender "
                "identities).",
                id="messaging.W003",
            )
        )
    for model, field in encrypted_columns():
        try:
            stored = list(model.objects.exclude(**{field: ""}).values_list("pk", field))
        except DatabaseError:  # not migrated yet
            continue
        unreadable = []
        for pk, token in stored:
            try:
                secret_decrypt(token)
            except ImproperlyConfigured:
                unreadable.append(pk)
        if unreadable:
            messages.append(
                checks.Error(
                    f"{len(unreadable)} stored secret(s) cannot be decrypted with "
                    f"CREDENTIALS_KEY ({model._meta.verbose_name_plural} "
                    f"{unreadable[:10]}): {UNREADABLE_EFFECT.get(model._meta.label, '')}",
                    hint="Set CREDENTIALS_KEY to the key(s) the secrets were stored "
                    "with, or store the secrets again.",
                    id="messaging.E003",
                )
            )
    return messages


def _task_timeout() -> float | None:
    timeout = (getattr(settings, "Q_CLUSTER", {}) or {}).get("timeout")
    return float(timeout) if timeout and timeout > 0 else None


@register("messaging")
def check_lease(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004: a lease at least as long as a task may run."""
    timeout = _task_timeout()
    lease = settings.MESSAGING_LEASE_SECONDS
    if timeout is None or lease >= timeout:
        return []
    return [
        checks.Error(
            f"MESSAGING_LEASE_SECONDS ({lease}) is shorter than the task timeout "
            f"Q_CLUSTER['timeout'] ({timeout:g}): another worker could claim a "
            "delivery while the task holding it still runs.",
            hint="Set MESSAGING_LEASE_SECONDS above Q_TIMEOUT (defaults 300 and 120).",
            id="messaging.E004",
        )
    ]


@register("messaging")
def check_task_time(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E005: a task has time for at least one call of each channel's backend."""
    from django.core.exceptions import ImproperlyConfigured

    from messaging.backends import get_backend
    from messaging.services.claims import TASK_MARGIN

    timeout = _task_timeout()
    if timeout is None:
        return []
    messages: list[CheckMessage] = []
    for channel in getattr(settings, "MESSAGING_BACKENDS", {}):
        try:
            call = float(getattr(get_backend(channel), "call_timeout", 0.0))
        except ImproperlyConfigured:
            continue  # E001 says why
        if call + TASK_MARGIN >= timeout:
            messages.append(
                checks.Error(
                    f"Q_CLUSTER['timeout'] ({timeout:g}) leaves no time to call "
                    f"the {channel} provider ({call:g} s of connect and read "
                    f"timeouts, {TASK_MARGIN:g} s to record): nothing would be sent.",
                    hint="Raise Q_TIMEOUT or lower the provider's timeouts.",
                    id="messaging.E005",
                )
            )
    return messages
