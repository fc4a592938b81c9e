"""The live inbox: tells a patient's open pages that their inbox changed.

The consumer only authenticates, joins the patient's group and forwards; the
page re-reads the list itself (the channel layer is a bus, not storage). A
caregiver's socket forwards neither a message the patient hid from proxies
nor its unread count: the same selectors as the pages decide.

Without a layer shared between processes (no Redis: `make run`'s worker
delivers in another process), or while Redis is unreachable, the consumer
re-reads a fingerprint of the inbox itself and tells the page when it changed
(``core.live.LiveConsumer``).
"""

from __future__ import annotations

from types import SimpleNamespace

from channels.db import database_sync_to_async

from django.core.exceptions import ValidationError
from django.http import Http404

from clinic.second_factor import session_second_factor_passed
from core.live import LiveConsumer
from messaging.backends.inapp import patient_group
from messaging.inbox import (
    inbox_fingerprint,
    inbox_message_is_visible,
    inbox_unread_count,
)
from portal.access import PortalAccess, portal_access

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _access(scope: dict) -> PortalAccess | None:
    """The patient whose inbox this socket may follow, as the portal decides."""
    request = SimpleNamespace(user=scope["user"], session=scope.get("session", {}))
    if not session_second_factor_passed(request.user, request.session):
        return None
    try:
        access = portal_access(request)
    except Http404:
        return None
    return access if access.allows("messages") else None


@database_sync_to_async
def _unread(access: PortalAccess) -> int:
    return inbox_unread_count(
        patient=access.patient, include_hidden=access.sees_hidden_items
    )


@database_sync_to_async
def _fingerprint(access: PortalAccess) -> tuple[int, int | None]:
    return inbox_fingerprint(
        patient=access.patient, include_hidden=access.sees_hidden_items
    )


@database_sync_to_async
def _visible(access: PortalAccess, public_id: str) -> bool:
    """Whether this socket's pages may show message ``public_id``."""
    if access.sees_hidden_items:
        return True  # the group is the patient's: their own messages
    try:
        return inbox_message_is_visible(
            patient=access.patient, public_id=public_id, include_hidden=False
        )
    except ValidationError:
        return False


class InboxConsumer(LiveConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.access = await _access(self.scope)
        if self.access is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.live_accept(patient_group(self.access.patient.pk))

    async def fingerprint(self) -> tuple[int, int | None]:
        return await _fingerprint(self.access)

    async def page_changed(self, fingerprint: tuple | None) -> None:
        unread = fingerprint[0] if fingerprint else await _unread(self.access)
        await self.send_json({"type": "message", "unread": unread})

    async def inbox_message(self, event: dict) -> None:
        if not await _visible(self.access, event.get("message", "")):
            return
        await self.send_json({"type": "message", "unread": await _unread(self.access)})

    async def inbox_changed(self, event: dict) -> None:
        """Lines were hidden or shown again: the page re-reads what it may see."""
        await self.send_json({"type": "message", "unread": await _unread(self.access)})
