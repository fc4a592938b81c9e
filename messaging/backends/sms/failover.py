"""A primary SMS provider with a secondary one for when it cannot take a batch.

::

    "sms": {
        "BACKEND": "messaging.backends.sms.failover.SmsBackend",
        "OPTIONS": {
            "primary": {"BACKEND": "messaging.backends.sms.twilio.SmsBackend",
                        "OPTIONS": {...}},
            "secondary": {"BACKEND": "messaging.backends.sms.sinch.SmsBackend",
                          "OPTIONS": {...}},
        },
    }
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from messaging.backends.base import NOT_ADMITTED, BaseBackend, SendResult
from messaging.backends.senders import NO_SENDER

if TYPE_CHECKING:
    from messaging.models import Delivery


def _member(channel: str, config: dict[str, Any]) -> BaseBackend:
    from messaging.backends import _backend_class

    return _backend_class(config["BACKEND"])(
        channel=channel, **config.get("OPTIONS", {})
    )


class SmsBackend(BaseBackend):
    """Sends through the primary; deliveries it failed transiently (429, 5xx,
    connection refused) go through the secondary in the same call.

    Permanent failures (the address is wrong) are not tried elsewhere, except
    an organization without a primary sender identity (``no_sender``), and
    neither are ``unknown`` ones: the primary may have accepted them, and a
    second provider would make the patient's phone ring twice. Each result
    names the provider that sent it, so its status callbacks find it.
    """

    provider = "failover"

    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.primary = _member(channel, options["primary"])
        self.secondary = _member(channel, options["secondary"])

    @property
    def members(self) -> list[BaseBackend]:
        return [self.primary, self.secondary]

    def is_available(self) -> tuple[bool, str]:
        """Unavailable when either provider is: a failover that cannot fail
        over must be reported, not discovered during an outage."""
        problems = []
        for role, backend in (("primary", self.primary), ("secondary", self.secondary)):
            available, why = backend.is_available()
            if not available:
                problems.append(f"{role} {backend.provider}: {why}")
        return (not problems, "; ".join(problems))

    @property
    def call_timeout(self) -> float:
        """One call may try both providers, one after the other."""
        return self.primary.call_timeout + self.secondary.call_timeout

    @property
    def reconcile_grace(self) -> float:
        return max(self.primary.reconcile_grace, self.secondary.reconcile_grace)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Both members' sessions (one client each) for the whole block."""
        with ExitStack() as stack:
            for member in self.members:
                if hasattr(member, "session"):
                    stack.enter_context(member.session())
            yield

    def send(self, delivery: Delivery) -> str:
        result = self.send_many([delivery])[0]
        if result.error is not None:
            raise result.error
        return result.provider_id

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult]:
        """Each organization's SMS leave from its identity with each provider:
        one without a primary identity goes through the secondary; one
        without a secondary identity keeps the primary's failure (a
        transient one is retried through the primary later)."""
        self.primary.gate = self.secondary.gate = self.gate
        results = {r.delivery_id: r for r in self.primary.send_many(deliveries)}
        retry = [
            d
            for d in deliveries
            if (error := results[d.pk].error) is not None
            and (error.code == NO_SENDER or not (error.permanent or error.unknown))
            and error.code != NOT_ADMITTED  # the gate refused it: nothing was called
        ]
        if retry:
            for result in self.secondary.send_many(retry):
                first = results[result.delivery_id].error
                if _no_sender(result) and first is not None and first.code != NO_SENDER:
                    continue
                results[result.delivery_id] = result
        return [results[d.pk] for d in deliveries]

    def reconcile(self, deliveries: list[Delivery]) -> dict[int, str | None]:
        """Ask the provider each delivery was tried with (``delivery.provider``),
        or both when none was recorded (the worker died mid-send).

        A provider's id wins; None only when every provider asked said it has
        no such message; left out when one of them could not tell.
        """
        answers: dict[int, list[str | _Missing | None]] = {}
        self.found_by: dict[int, str] = {}
        for backend in self.members:
            mine = [d for d in deliveries if d.provider in ("", backend.provider)]
            if not mine:
                continue
            found = backend.reconcile(mine)
            for delivery in mine:
                answer = found.get(delivery.pk, MISSING)
                answers.setdefault(delivery.pk, []).append(answer)
                if isinstance(answer, str):
                    self.found_by.setdefault(delivery.pk, backend.provider)
        settled: dict[int, str | None] = {}
        for delivery_id, values in answers.items():
            ids = [v for v in values if isinstance(v, str)]
            if ids:
                settled[delivery_id] = ids[0]
            elif MISSING not in values:
                settled[delivery_id] = None
        return settled

    def reconciled_provider(self, delivery_id: int) -> str:
        return getattr(self, "found_by", {}).get(delivery_id, self.provider)


def _no_sender(result: SendResult) -> bool:
    return result.error is not None and result.error.code == NO_SENDER


class _Missing:
    """A provider that could not tell."""


MISSING = _Missing()
