"""The staff conversation page, live: tells open pages that a conversation
changed (a patient's message, a colleague's reply, note, assignment or status).

The consumer only authenticates, joins the conversation's group and forwards;
the page re-reads its live region itself (the channel layer is a bus, not
storage). Admin's rules apply: an active staff user whose session passed the
second factor, with the view permission on conversations, of the
conversation's organization (anything else is refused as if it did not exist).

Without a layer shared between processes (no Redis: `make run`'s worker and
the SMS webhook may run elsewhere), the consumer also re-reads a fingerprint of
the conversation every PORTAL_LIVE_POLL_SECONDS and tells the page when it
changed, as the portal's inbox does.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from django.conf import settings

from clinic.second_factor import session_second_factor_passed
from messaging.selectors_conversations import (
    conversation_fingerprint,
    conversation_get_by_public_id,
)
from messaging.services.conversations import conversation_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _conversation_id(scope: dict) -> int | None:
    """The conversation this socket may follow, as admin decides, or None."""
    user = scope["user"]
    if not (user.is_active and user.is_staff):
        return None
    if not session_second_factor_passed(user, scope.get("session", {})):
        return None
    if not user.has_perm("messaging.view_conversation"):
        return None
    public_id = scope["url_route"]["kwargs"]["public_id"]
    conversation = conversation_get_by_public_id(user=user, public_id=public_id)
    return conversation.pk if conversation is not None else None


@database_sync_to_async
def _fingerprint(conversation_id: int) -> tuple:
    return conversation_fingerprint(conversation_id)


class StaffConversationConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    watcher: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        conversation_id = await _conversation_id(self.scope)
        if conversation_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.conversation_id = conversation_id
        self.group = conversation_group(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Read before accepting: the page re-reads once connected, so anything
        # newer than this read is news to it.
        poll = settings.PORTAL_LIVE_POLL_SECONDS
        seen = await _fingerprint(conversation_id) if poll > 0 else None
        await self.accept()
        if seen is not None:
            self.watcher = asyncio.create_task(self._watch(seen, poll))

    async def disconnect(self, code: int) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _watch(self, seen: tuple, every: float) -> None:
        """Tell the page when the conversation changed behind the layer's back."""
        while True:
            await asyncio.sleep(every)
            now = await _fingerprint(self.conversation_id)
            if now != seen:
                seen = now
                await self.send_json({"type": "changed"})

    async def conversation_changed(self, event: dict) -> None:
        await self.send_json({"type": "changed"})
