"""The contract every channel backend fulfils."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from messaging.models import Delivery


class DeliveryError(Exception):
    """A send that did not go through.

    ``permanent``: retrying cannot help (invalid number, provider opt-out).
    ``unknown``: the provider may have accepted it (a timeout after the request
    was sent); it must be reconciled, never blindly resent.
    ``retry_after``: seconds the provider asked to wait (HTTP 429).
    ``reason``: the delivery log's reason when it fails for good
    (``DeliveryReason``; default: provider rejected, or retries exhausted).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        unknown: bool = False,
        code: str = "",
        retry_after: float | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unknown = unknown
        self.code = code
        self.retry_after = retry_after
        self.reason = reason


# The code of a result whose call was never made because the gate refused it:
# not a failure, the delivering service tries it again or releases it.
NOT_ADMITTED = "not_admitted"


class SendGate:
    """Asked by a backend right before each provider call, from whichever
    thread makes it: may this delivery go out now?

    This default admits everything. The delivering service installs one
    (``messaging.services.claims.Claims``) that admits a delivery only while
    its worker's claim on it is freshly confirmed in the database and the
    task has time left. ``admits`` never touches the database.
    """

    def admits(self, delivery: Delivery) -> bool:
        return True


@dataclass
class SendResult:
    delivery_id: int
    provider: str = ""
    provider_id: str = ""
    error: DeliveryError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class BaseBackend:
    """One channel's way out. Subclasses implement ``send``, or ``send_many``
    when the provider takes batches or a connection can be reused; a
    ``send_many`` that calls a provider asks ``self.gate.admits(delivery)``
    right before each call and answers ``not_admitted`` when refused."""

    provider = "base"
    # Ask before every provider call (see SendGate); set per task.
    gate: SendGate = SendGate()
    # Longest one provider call may take, in seconds: no call starts later
    # than this before the task's time limit. Local backends: none.
    call_timeout: float = 0.0
    # How long after a call the provider may still not list what it
    # accepted (reconcile): until then "not found" means "cannot tell yet".
    reconcile_grace: float = 0.0

    def __init__(self, *, channel: str, **options: Any) -> None:
        self.channel = channel
        self.options = options

    def not_admitted(self, delivery: Delivery) -> SendResult:
        """The result of a delivery the gate refused: no call was made."""
        error = DeliveryError(f"{self.provider}: not admitted", code=NOT_ADMITTED)
        return SendResult(delivery.pk, self.provider, "", error)

    def is_available(self) -> tuple[bool, str]:
        """(usable, why not): missing credentials make a channel unavailable."""
        return True, ""

    def send(self, delivery: Delivery) -> str:
        """Send one delivery and return the provider's id for it.

        Raise DeliveryError(permanent=True) when a retry cannot help,
        DeliveryError(unknown=True) when the provider may have accepted it,
        DeliveryError() otherwise. Never log addresses or bodies.
        """
        raise NotImplementedError

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult]:
        results = []
        for delivery in deliveries:
            if not self.gate.admits(delivery):
                results.append(self.not_admitted(delivery))
                continue
            try:
                provider_id = self.send(delivery)
            except DeliveryError as error:
                results.append(SendResult(delivery.pk, self.provider, "", error))
            else:
                results.append(SendResult(delivery.pk, self.provider, provider_id))
        return results

    def reconcile(self, deliveries: list[Delivery]) -> dict[int, str | None]:
        """For deliveries whose outcome is unknown (a timeout, a worker that died
        mid-send): delivery id → the provider's id if the provider has it, or
        None if it certainly does not, so that it may be sent again.

        The default cannot ask anybody and answers None: at-least-once. Backends
        whose provider can be asked override it.
        """
        return {delivery.pk: None for delivery in deliveries}

    def reconciled_provider(self, delivery_id: int) -> str:
        """Which provider holds a delivery that ``reconcile`` found (a backend
        fronting several providers says which one, so callbacks match)."""
        return self.provider
