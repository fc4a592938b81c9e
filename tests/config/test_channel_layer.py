"""The channel layer keeps an idle websocket alive (Redis only).

channels-redis waits for a message with a 5-second blocking pop; redis-py 8
times socket reads out after 5 seconds by default, so an idle consumer
crashed with "Timeout reading from …" after five quiet seconds.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from django.conf import settings


@pytest.mark.skipif(not settings.REDIS_URL, reason="the in-memory layer has no socket")
def test_an_idle_receive_outlasts_the_blocking_pop():
    layer = get_channel_layer()

    async def scenario():
        import asyncio

        channel = await layer.new_channel()
        wait = layer.brpop_timeout + 2
        try:
            await asyncio.wait_for(layer.receive(channel), wait)
        except TimeoutError:
            return "quiet"  # nothing arrived and nothing broke
        return "message"

    assert async_to_sync(scenario)() == "quiet"
