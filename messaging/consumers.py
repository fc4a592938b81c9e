"""The staff conversation page, live: tells open pages that a conversation
changed (a patient's message, a colleague's reply, note, assignment or status).
The page shows every message with the patient, so it follows the patient's
conversations, not only its own: an SMS that joins the patient's newer
conversation is news to an older one's open page.

The consumer only authenticates, joins the patient's staff group and forwards;
the page re-reads its live region itself (the channel layer is a bus, not
storage). Admin's rules apply: an active staff user whose session passed the
second factor, with the view permission on conversations, of the
conversation's organization (anything else is refused as if it did not exist).

Without a layer shared between processes (no Redis: `make run`'s worker and
the SMS webhook may run elsewhere), or while Redis is unreachable, the consumer
re-reads a fingerprint of the conversation itself and tells the page when it
changed, as the portal's inbox does (``core.live.LiveConsumer``).
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from clinic.second_factor import session_second_factor_passed
from core.live import LiveConsumer
from messaging.selectors_conversations import (
    conversation_fingerprint,
    conversation_get_by_public_id,
)
from messaging.services.conversations import staff_patient_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _conversation_ids(scope: dict) -> tuple[int, int] | None:
    """The conversation this socket may follow, as admin decides, with its
    patient, or None."""
    user = scope["user"]
    if not (user.is_active and user.is_staff):
        return None
    if not session_second_factor_passed(user, scope.get("session", {})):
        return None
    if not user.has_perm("messaging.view_conversation"):
        return None
    public_id = scope["url_route"]["kwargs"]["public_id"]
    conversation = conversation_get_by_public_id(user=user, public_id=public_id)
    if conversation is None:
        return None
    return conversation.pk, conversation.patient_id


@database_sync_to_async
def _fingerprint(conversation_id: int) -> tuple:
    return conversation_fingerprint(conversation_id)


class StaffConversationConsumer(LiveConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        ids = await _conversation_ids(self.scope)
        if ids is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.conversation_id, patient_id = ids
        await self.live_accept(staff_patient_group(patient_id))

    async def fingerprint(self) -> tuple:
        return await _fingerprint(self.conversation_id)

    async def page_changed(self, fingerprint: tuple | None) -> None:
        await self.send_json({"type": "changed"})

    async def conversation_changed(self, event: dict) -> None:
        await self.send_json({"type": "changed"})
