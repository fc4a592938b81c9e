"""The live bus: notices to open pages over the channel layer, best effort.

The channel layer (Redis in production) only tells open pages that something
changed; the database holds the truth and every live page re-reads it when
its socket (re)connects (DESIGN.md). So nothing that writes waits for the bus
or fails with it: ``notify`` sends a batch of notices within a bounded time
and drops them when Redis is unreachable, and ``LiveConsumer`` keeps a page's
socket open without the bus, re-reading a fingerprint of the page's data until
the bus is back (docs/architecture.md, "Redis").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Hashable, Sequence

from asgiref.sync import async_to_sync
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from django.conf import settings
from django.db import transaction

from core.breaker import UNREACHABLE, breaker_for

logger = logging.getLogger(__name__)

Notice = tuple[str, dict]  # (group, event)


def _breaker():
    return breaker_for(
        "live notices", label="live notices", retry_seconds=settings.REDIS_RETRY_SECONDS
    )


async def _send_all(layer, notices: Sequence[Notice], timeout: float):
    """Send ``notices`` in order; stop at the first failure. Returns (sent, error)."""
    sent = 0
    for group, event in notices:
        try:
            await asyncio.wait_for(layer.group_send(group, event), timeout)
        except Exception as error:  # the bus is best effort, whatever failed
            return sent, error
        sent += 1
    return sent, None


def notify(notices: Sequence[Notice]) -> int:
    """Send each (group, event) notice to the pages following ``group``;
    return how many went out. Never raises.

    One event loop for the whole batch, each notice bounded by REDIS_TIMEOUT,
    and the batch given up at its first failure: a batch pays one timeout at
    most, and none while the breaker is open (REDIS_RETRY_SECONDS after a
    failure). Logs counts and the error's class, never a group or an event.
    """
    layer = get_channel_layer()
    if layer is None or not notices:
        return 0
    breaker = _breaker()
    if not breaker.allows():
        logger.debug("live notices: %d dropped, Redis unreachable", len(notices))
        return 0
    sent, error = async_to_sync(_send_all)(layer, notices, settings.REDIS_TIMEOUT)
    if error is None:
        breaker.succeeded()
    else:
        breaker.failed(error)
        logger.warning(
            "live notices: %d of %d not sent (%s); pages re-read on reconnect",
            len(notices) - sent,
            len(notices),
            type(error).__name__,
        )
    return sent


def notify_on_commit(group: str, event: dict) -> None:
    """``notify`` once the current transaction commits (never before: the
    page would re-read what is not there yet)."""
    transaction.on_commit(lambda: notify([(group, event)]))


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """A page's live socket: joins one group and forwards its events; the page
    re-reads its data whenever it is told (and on every (re)connect).

    When the bus cannot tell the page, the socket re-reads a fingerprint of
    the data itself and tells the page when it changed: always every
    PORTAL_LIVE_POLL_SECONDS when that is set (no layer shared between
    processes), and every REDIS_RETRY_SECONDS while Redis is unreachable,
    trying to join the group again each time. Subclasses authenticate in
    ``connect`` and call ``live_accept``; they say what the fingerprint is
    and how the page is told.
    """

    group: str | None = None
    joined = False
    watcher: asyncio.Task | None = None

    async def fingerprint(self) -> Hashable:
        raise NotImplementedError

    async def page_changed(self, fingerprint: Hashable | None) -> None:
        """Tell the page to re-read (``fingerprint``: the data's new one, if read)."""
        raise NotImplementedError

    async def __call__(self, scope, receive, send) -> None:
        # channels 4.3's AsyncConsumer.__call__, with the layer's receive
        # replaced by _bus_receive: a lost bus becomes events for this
        # consumer, not an exception that closes the page's socket.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = self._bus_receive
        self._accepted = asyncio.Event()
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive, self.channel_receive], self.dispatch)

    async def live_accept(self, group: str) -> None:
        """Join ``group`` if the bus answers, accept the socket, and watch the
        data when the bus cannot be relied on."""
        self.group = group
        self.joined = await self._join()
        # Read before accepting: the page re-reads once connected, so
        # anything newer than this read is news to it.
        watch = settings.PORTAL_LIVE_POLL_SECONDS > 0 or not self.joined
        seen = await self.fingerprint() if watch else None
        await self.accept()
        self._accepted.set()
        if watch:
            self.watcher = asyncio.create_task(self._watch(seen))

    async def disconnect(self, code: int) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
        if self.joined:
            # The group forgets a channel by itself after a day (group_expiry).
            with contextlib.suppress(*UNREACHABLE):
                await asyncio.wait_for(
                    self.channel_layer.group_discard(self.group, self.channel_name),
                    settings.REDIS_TIMEOUT,
                )

    async def _join(self) -> bool:
        try:
            await asyncio.wait_for(
                self.channel_layer.group_add(self.group, self.channel_name),
                settings.REDIS_TIMEOUT,
            )
        except UNREACHABLE:
            return False
        return True

    def _every(self) -> float:
        """Seconds to the next re-read: jittered, so that the sockets that
        lost Redis at the same instant do not all query at the same instant."""
        poll = settings.PORTAL_LIVE_POLL_SECONDS
        every = poll if poll > 0 else settings.REDIS_RETRY_SECONDS
        return every * random.uniform(0.75, 1.25)  # noqa: S311 - jitter

    async def _watch(self, seen: Hashable) -> None:
        """Tell the page when its data changed behind the bus's back."""
        while True:
            await asyncio.sleep(self._every())
            now = await self.fingerprint()
            if now != seen:
                seen = now
                await self.page_changed(now)

    async def _bus_receive(self) -> dict:
        """The next event of the group; ``live.lost`` when the bus fails, then
        ``live.back`` once the group is joined again."""
        await self._accepted.wait()  # a refused socket never listens
        while not self.joined:
            await asyncio.sleep(self._every())
            if await self._join():
                self.joined = True
                return {"type": "live.back"}
        try:
            return await self.channel_layer.receive(self.channel_name)
        except UNREACHABLE:
            self.joined = False
            return {"type": "live.lost"}

    async def live_lost(self, event: dict) -> None:
        """The bus is gone: the page re-reads now, then the socket watches."""
        seen = await self.fingerprint()
        await self.page_changed(seen)
        if self.watcher is None:
            self.watcher = asyncio.create_task(self._watch(seen))

    async def live_back(self, event: dict) -> None:
        """The group is joined again: the page re-reads what the bus missed."""
        if settings.PORTAL_LIVE_POLL_SECONDS <= 0 and self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None
        await self.page_changed(None)
