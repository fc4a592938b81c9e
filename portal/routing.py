"""Websocket routes of the portal (served by the ASGI app under /ws/)."""

from django.urls import path

from portal.consumers import InboxConsumer

websocket_urlpatterns = [
    path("ws/inbox/", InboxConsumer.as_asgi()),
]
