"""The staff conversation page, live: tells open pages that a conversation
changed (a patient's message, a colleague's reply, note, assignment or status).

The consumer only authenticates, joins the conversation's group and forwards;
the page re-reads its live region itself (the channel layer is a bus, not
storage). Admin's rules apply: an active staff user whose session passed the
second factor, with the view permission on conversations, of the
conversation's organization (anything else is refused as if it did not exist).

Without a layer shared between processes (no Redis: `make run`'s worker and
the SMS webhook may run elsewhere), or while Redis is unreachable, the consumer
re-reads a fingerprint of the conversation itself and tells the page when it
changed, as the portal's inbox does (``config.live.LiveConsumer``).
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from clinic.second_factor import session_second_factor_passed
from config.live import LiveConsumer
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


class StaffConversationConsumer(LiveConsumer):
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
        await self.live_accept(conversation_group(conversation_id))

    async def fingerprint(self) -> tuple:
        return await _fingerprint(self.conversation_id)

    async def page_changed(self, fingerprint: tuple | None) -> None:
        await self.send_json({"type": "changed"})

    async def conversation_changed(self, event: dict) -> None:
        await self.send_json({"type": "changed"})
