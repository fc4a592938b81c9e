"""The verification snippet in docs/api.md is the code the tests run: the
signatures Liaison sends verify; forged or stale ones do not."""

import inspect
import re
import time
from pathlib import Path

from api.webhooks import verify_example as webhook_verify_example
from api.webhooks.sending import body_bytes, signature_header
from api.webhooks.verify_example import verify_liaison_signature

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SECRET = "whsec_0123456789abcdef"


def documented_snippet() -> str:
    section = DOCS.read_text().split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_docs_show_exactly_the_tested_code():
    assert documented_snippet() == inspect.getsource(webhook_verify_example)


def test_the_documented_code_runs_on_its_own():
    namespace: dict = {}
    exec(documented_snippet(), namespace)  # noqa: S102 - our own documentation
    body = body_bytes({"type": "consent.changed", "data": {"granted": False}})
    now = int(time.time())
    header = signature_header(SECRET, now, body)
    assert namespace["verify_liaison_signature"](SECRET, header, body)


def test_what_liaison_signs_verifies():
    body = body_bytes({"id": "x", "type": "message.received", "data": {"é": 1}})
    now = int(time.time())
    assert verify_liaison_signature(SECRET, signature_header(SECRET, now, body), body)


def test_a_forged_signature_is_refused():
    body = body_bytes({"type": "consent.changed"})
    now = int(time.time())
    assert not verify_liaison_signature(
        SECRET, signature_header("whsec_someone_else", now, body), body
    )
    tampered = body.replace(b"consent", b"account")
    assert not verify_liaison_signature(
        SECRET, signature_header(SECRET, now, body), tampered
    )
    assert not verify_liaison_signature(SECRET, f"t={now},v1=00", body)
    assert not verify_liaison_signature(SECRET, "garbage", body)
    assert not verify_liaison_signature(SECRET, f"t={now}", body)


def test_a_stale_or_future_timestamp_is_refused():
    body = body_bytes({"type": "consent.changed"})
    now = int(time.time())
    old = signature_header(SECRET, now - 301, body)
    assert not verify_liaison_signature(SECRET, old, body)
    assert verify_liaison_signature(
        SECRET, signature_header(SECRET, now - 299, body), body
    )
    future = signature_header(SECRET, now + 301, body)
    assert not verify_liaison_signature(SECRET, future, body)
