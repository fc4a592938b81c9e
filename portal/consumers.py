"""The live inbox: tells a patient's open pages that their inbox changed.

The consumer only authenticates, joins the patient's group and forwards; the
page re-reads the list itself (the channel layer is a bus, not storage).
"""

from __future__ import annotations

from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from django.apps import apps
from django.http import Http404

from messaging.backends.inapp import patient_group
from messaging.inbox import inbox_unread_count
from portal.access import PortalAccess, portal_access

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _second_factor_passed(user, session) -> bool:
    """What the portal's SecondFactorMiddleware asks of pages: the session was
    verified with a confirmed device of this user (when django-otp is on)."""
    if not apps.is_installed("django_otp"):
        return True
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


@database_sync_to_async
def _access(scope: dict) -> PortalAccess | None:
    """The patient whose inbox this socket may follow, as the portal decides."""
    request = SimpleNamespace(user=scope["user"], session=scope.get("session", {}))
    if not _second_factor_passed(request.user, request.session):
        return None
    try:
        access = portal_access(request)
    except Http404:
        return None
    return access if access.allows("messages") else None


@database_sync_to_async
def _unread(access: PortalAccess) -> int:
    return inbox_unread_count(patient=access.patient)


class InboxConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.access = await _access(self.scope)
        if self.access is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = patient_group(self.access.patient.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def inbox_message(self, event: dict) -> None:
        await self.send_json({"type": "message", "unread": await _unread(self.access)})
