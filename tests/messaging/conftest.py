import pytest

from messaging.backends import locmem
from tests.support.processes import FakeSinch, FakeTwilio


@pytest.fixture(autouse=True)
def sms_outbox():
    """What the locmem SMS and voice backends "sent" during the test."""
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def fake_sinch():
    """The fake Sinch in its own process (tests.support.fake_sinch)."""
    fake = FakeSinch()
    yield fake
    fake.stop()


@pytest.fixture
def fake_twilio():
    """The fake Twilio in its own process (tests.support.fake_twilio)."""
    fake = FakeTwilio()
    yield fake
    fake.stop()
