import pytest

from messaging.backends import locmem


@pytest.fixture(autouse=True)
def sms_outbox():
    """What the locmem SMS and voice backends "sent" during the test (as in
    tests/messaging: a staff reply may leave by SMS)."""
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()
