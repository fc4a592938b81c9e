"""What every provider backend on ``httpx`` shares: one client per credential
set for a batch, each delivery's sender resolved before any thread starts,
and the mapping of HTTP outcomes to ``DeliveryError``.

| outcome                                   | DeliveryError                        |
|-------------------------------------------|--------------------------------------|
| connection refused, DNS, connect timeout  | transient                            |
| timeout or disconnect after sending       | ``unknown=True``: reconcile, never resend |
| 429                                       | transient, ``retry_after`` from the header |
| 408, 5xx                                  | transient                            |
| other 4xx                                 | ``permanent=True``, provider's code  |

Logs carry the provider, the operation, the HTTP status and the delivery id:
never a URL (query strings hold phone numbers), an address or a body.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from django.conf import settings
from django.utils import timezone

from messaging.backends.base import BaseBackend, DeliveryError, SendResult
from messaging.backends.senders import Identity, Sender, identities_load
from messaging.metrics import PROVIDER_ERRORS, PROVIDER_LATENCY

if TYPE_CHECKING:
    from messaging.models import Delivery

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# Seconds after a call during which a provider may not list yet what it
# accepted: Twilio's and Sinch's lists are not read-your-writes.
RECONCILE_GRACE = 60.0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - timezone.now()).total_seconds())


def json_error_code(response: httpx.Response) -> str:
    """The provider's own error code from a JSON error body, or ""."""
    try:
        payload = response.json()
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    # Twilio and Sinch SMS say "code", Sinch Voice says "errorCode".
    code = payload.get("code", payload.get("errorCode", ""))
    return str(code) if code is not None else ""


class ProviderError(DeliveryError):
    """A DeliveryError that also says whether the rest of the batch should
    wait: after a 429, a refused connection or a timeout, the next call would
    most likely meet the same fate (and a batch of timeouts outlasts a task)."""

    def __init__(
        self, message: str, *, halts_batch: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.halts_batch = halts_batch


def delivery_reference(delivery_id: int) -> str:
    """The stable reference a provider keeps for one delivery (reconciliation)."""
    return f"liaison-{delivery_id}"


class ProviderClient:
    """A thin wrapper over one ``httpx.Client`` that raises ``DeliveryError``."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        error_code: Callable[[httpx.Response], str] = json_error_code,
    ) -> None:
        self.provider = provider
        self.error_code = error_code
        self.client = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        delivery_id: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; return a 2xx response or raise DeliveryError."""
        started = time.monotonic()
        try:
            response = self._timed(method, path, operation, started, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the provider: safe to try again.
            self._log(operation, type(exc).__name__, delivery_id)
            raise ProviderError(
                f"{self.provider}: cannot connect",
                code="connect_error",
                halts_batch=True,
            ) from exc
        except (
            httpx.ReadTimeout,
            httpx.WriteTimeout,
            httpx.ReadError,
            httpx.RemoteProtocolError,
        ) as exc:
            # The request left: the provider may have accepted it.
            self._log(operation, type(exc).__name__, delivery_id)
            raise ProviderError(
                f"{self.provider}: no answer after sending",
                unknown=True,
                code="timeout",
                halts_batch=True,
            ) from exc
        except httpx.HTTPError as exc:
            self._log(operation, type(exc).__name__, delivery_id)
            raise ProviderError(
                f"{self.provider}: {type(exc).__name__}", code="http_error"
            ) from exc
        self._log(operation, response.status_code, delivery_id)
        if response.is_success:
            return response
        raise self._error(response)

    def _timed(
        self, method: str, path: str, operation: str, started: float, **kwargs: Any
    ) -> httpx.Response:
        """The request, its latency and any failure recorded (messaging.metrics)."""
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            PROVIDER_ERRORS.labels(self.provider, operation, type(exc).__name__).inc()
            raise
        finally:
            PROVIDER_LATENCY.labels(self.provider, operation).observe(
                time.monotonic() - started
            )
        if not response.is_success:
            PROVIDER_ERRORS.labels(
                self.provider, operation, str(response.status_code)
            ).inc()
        return response

    def _error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        code = self.error_code(response) or str(status)
        message = f"{self.provider} answered HTTP {status}"
        if status == 429:
            return ProviderError(
                message,
                code=code,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                halts_batch=True,
            )
        if status == 408 or status >= 500:
            return ProviderError(message, code=code)
        return ProviderError(message, permanent=True, code=code)

    def _log(self, operation: str, outcome: object, delivery_id: int | None) -> None:
        logger.info(
            "%s %s: %s (delivery %s)", self.provider, operation, outcome, delivery_id
        )


class HttpBackend(BaseBackend):
    """A provider backend on ``httpx``: one client per credential set for a
    whole batch.

    Subclasses set ``provider``, ``default_base_url`` and ``required`` (option
    name → the environment variable that sets it, for error messages),
    implement ``sender_from`` (an organization's identity → its ``Sender``)
    and ``send``, calling ``self.client(sender).request(...)`` with
    ``sender = self.sender(delivery)``.
    """

    default_base_url = ""
    required: dict[str, str] = {}

    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self._clients: dict[tuple[str, str], ProviderClient] | None = None
        self._senders: dict[int, Sender] = {}

    @property
    def base_url(self) -> str:
        return (self.options.get("base_url") or self.default_base_url).rstrip("/")

    @property
    def call_timeout(self) -> float:
        """Connecting, then waiting for the answer: the longest one call takes."""
        return float(self.options.get("connect_timeout", CONNECT_TIMEOUT)) + float(
            self.options.get("read_timeout", READ_TIMEOUT)
        )

    @property
    def reconcile_grace(self) -> float:
        return float(self.options.get("reconcile_grace", RECONCILE_GRACE))

    @property
    def status_callback_url(self) -> str:
        return (
            self.options.get("status_callback_url")
            or f"{settings.SITE_URL}/webhooks/{self.provider}/status"
        )

    def required_options(self) -> dict[str, str]:
        """Option name → the environment variable that sets it."""
        return self.required

    def is_available(self) -> tuple[bool, str]:
        """(False, "missing TWILIO_AUTH_TOKEN, …") when credentials are missing."""
        missing = [
            env
            for option, env in self.required_options().items()
            if not self.options.get(option)
        ]
        if missing:
            return False, f"missing {', '.join(missing)}"
        return True, ""

    # Sender identities: resolved before any thread starts (senders.py).

    def sender_from(self, identity: Identity) -> Sender:
        """The ``Sender`` of an organization's identity; providers override to
        fill in the account and the credentials (the identity's or the
        platform's)."""
        return Sender(identity.phone_number, identity.messaging_service_sid)

    def senders_for(
        self, organization_ids: Iterable[int]
    ) -> dict[int, Sender | DeliveryError]:
        """Organization id → its Sender for this provider, or the DeliveryError
        its deliveries fail with (``no_sender``…). One query."""
        return {
            organization_id: (
                self.sender_from(found) if isinstance(found, Identity) else found
            )
            for organization_id, found in identities_load(
                self.provider, organization_ids
            ).items()
        }

    def senders_load(self, deliveries: list[Delivery]) -> dict[int, DeliveryError]:
        """Resolve the sender of every delivery's organization (one query) for
        ``sender`` to answer in threads; returns delivery id → the error of
        those that cannot be sent (no identity, unreadable secret)."""
        found = self.senders_for({d.organization_id for d in deliveries})
        self._senders = {k: v for k, v in found.items() if isinstance(v, Sender)}
        return {
            d.pk: error
            for d in deliveries
            if isinstance(error := found[d.organization_id], DeliveryError)
        }

    def sender(self, delivery: Delivery) -> Sender:
        """The sender ``senders_load`` resolved for this delivery's organization."""
        return self._senders[delivery.organization_id]

    # HTTP clients: one per credential set.

    def client_options(self, sender: Sender) -> dict[str, Any]:
        """Auth and headers for ``ProviderClient``; providers override."""
        return {}

    def new_client(self, sender: Sender) -> ProviderClient:
        return ProviderClient(
            provider=self.provider,
            base_url=self.base_url,
            connect_timeout=float(self.options.get("connect_timeout", CONNECT_TIMEOUT)),
            read_timeout=float(self.options.get("read_timeout", READ_TIMEOUT)),
            **self.client_options(sender),
        )

    @contextmanager
    def session(self, senders: Iterable[Sender] = ()) -> Iterator[None]:
        """One client (one connection pool) per distinct credential set among
        the loaded senders and ``senders``, for everything inside the block.
        Clients are made before the block, so threads only read them."""
        if self._clients is not None:
            # Inside an outer session (the delivering service keeps one for
            # all of a channel's groups): clients for senders loaded since.
            self._clients_add([*self._senders.values(), *senders])
            yield
            return
        self._clients = {}
        try:
            self._clients_add([*self._senders.values(), *senders])
            yield
        finally:
            for client in self._clients.values():
                client.close()
            self._clients = None

    def _clients_add(self, senders: Iterable[Sender]) -> None:
        assert self._clients is not None  # noqa: S101 - inside a session
        for sender in senders:
            if sender.credentials not in self._clients:
                self._clients[sender.credentials] = self.new_client(sender)

    def client(self, sender: Sender) -> ProviderClient:
        """The session's client for ``sender``'s credentials."""
        if self._clients is None:
            raise RuntimeError("Use the backend inside `with backend.session():`.")
        return self._clients[sender.credentials]

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult]:
        """Send a batch over one client, one result per delivery, in order.

        OPTIONS ``concurrency`` (default 1) requests are in flight at once, on
        as many pooled connections: a provider's round trip is mostly waiting.
        After a 429, a refused connection or a timeout the deliveries not yet
        started are not attempted (transient ``not_attempted``, with the
        provider's Retry-After). A backend without credentials fails every
        delivery with a transient ``not_configured`` error (retried with
        back-off while /healthz and ``manage.py check`` report the channel).
        Each delivery leaves from its organization's sender identity, all
        resolved in one query before any thread starts (``senders_load``);
        one without an identity for this provider fails permanently with
        ``no_sender`` (it falls back to the next channel). Each call waits
        for ``self.gate`` to admit it (``not_admitted`` otherwise).
        ``send`` must not touch the database: it may run in a thread."""
        available, why = self.is_available()
        if not available:
            error = DeliveryError(why, code="not_configured")
            return [SendResult(d.pk, self.provider, "", error) for d in deliveries]
        unsendable = self.senders_load(deliveries)
        halted: list[DeliveryError] = []

        def one(delivery: Delivery) -> SendResult:
            if delivery.pk in unsendable:
                error = unsendable[delivery.pk]
                return SendResult(delivery.pk, self.provider, "", error)
            if halted:
                error = DeliveryError(
                    f"{self.provider}: not attempted",
                    code="not_attempted",
                    retry_after=halted[0].retry_after,
                )
                return SendResult(delivery.pk, self.provider, "", error)
            if not self.gate.admits(delivery):
                return self.not_admitted(delivery)
            try:
                provider_id = self.send(delivery)
            except DeliveryError as error:
                if getattr(error, "halts_batch", False):
                    halted.append(error)
                return SendResult(delivery.pk, self.provider, "", error)
            return SendResult(delivery.pk, self.provider, provider_id)

        concurrency = max(1, int(self.options.get("concurrency", 1)))
        with self.session():
            if concurrency == 1 or len(deliveries) == 1:
                return [one(delivery) for delivery in deliveries]
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                return list(pool.map(one, deliveries))

    def reconcile(self, deliveries: list[Delivery]) -> dict[int, str | None]:
        """Ask the provider about deliveries it may have accepted.

        Returns delivery id → the provider's id (it was accepted: record it as
        sent) or None (the provider has no trace of it: safe to send again).
        Deliveries missing from the answer could not be checked; keep them
        ``unknown``. The default checks nothing.
        """
        return {}


def provider_backends(provider: str) -> list[BaseBackend]:
    """Every configured backend of ``provider`` (across channels, failover
    members included): webhooks take their secrets from these."""
    from django.core.exceptions import ImproperlyConfigured

    from messaging.backends import get_backend

    found: list[BaseBackend] = []
    for channel in getattr(settings, "MESSAGING_BACKENDS", {}):
        try:
            backend = get_backend(channel)
        except ImproperlyConfigured:
            continue
        for member in getattr(backend, "members", [backend]):
            if member.provider == provider:
                found.append(member)
    return found
