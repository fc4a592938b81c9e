"""The production topology of deploy/, running: nginx (TLS, HSTS, /ws/
upgrade) in front of gunicorn, daphne and two worker clusters on PostgreSQL
and Redis, started from the deploy files by scripts/topology.py. A patient
signs in over HTTPS, a message reaches the open inbox live over WSS, and the
reply comes back through the same path."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest

from scripts.demo_stack import stop_group
from scripts.topology import NGINX, self_signed_context, topology
from tests.e2e.conftest import Stack, new_page, portal_sign_in

pytestmark = pytest.mark.e2e

ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    if not ON_POSTGRESQL:
        pytest.skip("the topology runs on PostgreSQL (CI's second pass)")
    if not Path(NGINX).exists() and os.environ.get("E2E_REQUIRED") != "1":
        pytest.skip(f"no nginx at {NGINX} (apt install nginx)")
    workdir = tmp_path_factory.mktemp("topology")
    with topology(workdir) as running:
        stack = Stack(url=running.url, env=running.env, log=workdir / "stage.log")
        try:
            yield running, stack
        finally:
            if stack.stager is not None:
                stop_group(stack.stager, timeout=15)


def _request(
    port: int, method: str, path: str, *, tls: bool, body: bytes = b"", headers=None
):
    """(status, headers) of one request, redirects not followed."""
    if tls:
        connection = http.client.HTTPSConnection(
            "localhost", port, context=self_signed_context()
        )
    else:
        connection = http.client.HTTPConnection("localhost", port)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_nginx_redirects_plain_http_sends_hsts_and_limits_bodies(deployed):
    running, _ = deployed
    status, headers = _request(
        running.ports["http"], "GET", "/accounts/login/", tls=False
    )
    assert status == 301
    assert headers["location"] == "https://localhost/accounts/login/"
    status, headers = _request(
        running.ports["https"], "GET", "/accounts/login/", tls=True
    )
    assert status == 200
    assert "max-age=31536000" in headers["strict-transport-security"]
    # Probes for the load balancer, through the proxy too.
    for probe in ("/healthz/live", "/healthz/ready"):
        assert _request(running.ports["https"], "GET", probe, tls=True)[0] == 200
    # A body over the limit never reaches the application.
    big = b"x" * (4 * 1024 * 1024)
    status, _ = _request(
        running.ports["https"], "POST", "/accounts/login/", tls=True, body=big
    )
    assert status == 413


def test_static_files_come_from_disk_hashed_ones_cached_for_ever(deployed):
    running, _ = deployed
    manifest = json.loads((running.workdir / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/liaison.css"]
    status, headers = _request(
        running.ports["https"], "GET", f"/static/{hashed}", tls=True
    )
    assert status == 200
    assert "immutable" in headers["cache-control"]
    assert "max-age=31536000" in headers["strict-transport-security"]


def test_a_patient_signs_in_and_reads_a_live_message_over_https_and_wss(
    deployed, browser
):
    running, stack = deployed
    patient = stack.stage("conversation", "--lang", "en")
    context, page = new_page(browser, language="en", ignore_https_errors=True)
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    try:
        portal_sign_in(
            page, stack, patient["username"], patient["password"], patient["code"]
        )
        assert page.url.startswith("https://localhost:")
        page.goto(stack.url + "/portal/inbox/")
        page.evaluate("window.__stillTheSamePage = true")
        text = "A message through the whole topology"
        stack.stage("send", "--patient", str(patient["patient"]), "--text", text)
        link = page.locator("#inbox-list a", has_text=text)
        link.wait_for(timeout=30_000)
        # It arrived without a reload, over a websocket through nginx.
        assert page.evaluate("window.__stillTheSamePage") is True
        assert sockets
        assert all(url.startswith("wss://localhost:") for url in sockets)
        with page.expect_navigation():
            link.click()
        reply = "Thank you, received"
        page.fill("textarea[name=text]", reply)
        with page.expect_navigation():
            page.locator("form:has(textarea[name=text]) button[type=submit]").click()
        state = stack.stage("state", "--patient", str(patient["patient"]))
        assert reply in state["inbound"]
        assert not [e for e in page.errors if not e.startswith("404")]
    finally:
        context.close()
    # The operators' view: the delivery is counted, behind the token.
    port = running.ports["https"]
    assert _request(port, "GET", "/metrics", tls=True)[0] == 404
    token = {"Authorization": f"Bearer {running.env['METRICS_TOKEN']}"}
    status, _ = _request(port, "GET", "/metrics", tls=True, headers=token)
    assert status == 200
    # Both worker clusters and every server are still up.
    for name, process in running.processes.items():
        assert process.poll() is None, f"{name} stopped:\n{running.log(name)[-2000:]}"
