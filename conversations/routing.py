"""Websocket routes of staff pages (served by the ASGI app under /ws/)."""

from django.urls import path

from conversations.consumers import StaffConversationConsumer

websocket_urlpatterns = [
    path(
        "ws/staff/conversations/<uuid:public_id>/",
        StaffConversationConsumer.as_asgi(),
    ),
]
