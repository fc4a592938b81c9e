"""No patient data in logs or task rows: a patient with sentinel names, phone
number and email receives messages full of clinical words on every channel,
signs in to read them, and a partner reads their record; then every log line
(as JSON, at DEBUG), every django-q2 task row and the outbox-free traces are
scanned for the sentinels. Each line carries the request id of its request,
and the id follows a request into the tasks it enqueued."""

import io
import json
import logging

import pytest
import time_machine
from django_q.models import Task
from django_q.tasks import async_task

from django.http import HttpResponse
from django.test import RequestFactory

from clinic.services import patient_save
from config.log_format import JsonFormatter
from config.request_context import RequestIdFilter, RequestIdMiddleware
from messaging.services import message_send
from tests.clinic.factories import PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db

SENTINELS = (
    "Zénobie",
    "Quasimodo",
    "699887766",  # the mobile number, however it is formatted
    "zenobie.sentinel",
    "chimiothérapie",
    "oncologique",
    "séropositivité",
)


@pytest.fixture
def json_log():
    """Every record of every logger, at DEBUG, formatted as production does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def sentinel_patient(organization):
    user = UserFactory(username="zq-sentinel")
    return patient_save(
        patient=PatientFactory.build(
            organization=organization,
            user=user,
            given_name="Zénobie",
            family_name="Quasimodo",
            phone="+33699887766",
            email="zenobie.sentinel@example.org",
        )
    )


def test_a_whole_send_leaves_no_patient_data_in_logs_or_task_rows(
    client, organization, sentinel_patient, json_log, on_commit_at_once
):
    # given: deliveries run as soon as they are queued (on_commit_at_once)
    topic = TopicFactory(
        organization=organization, slug="results", channels=["inapp", "sms", "email"]
    )
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        # when: messages with clinical words on every channel
        for channel in ("inapp", "sms", "email"):
            message_send(
                patient=sentinel_patient,
                topic=topic,
                origin="staff",
                subject="Bilan chimiothérapie oncologique",
                text="Zénobie, votre séropositivité et la chimiothérapie : appelez-nous.",
                channels=[channel],
            )
        # and the patient reads them in the portal
        client.force_login(sentinel_patient.user)
        response = client.get("/portal/inbox/", HTTP_X_REQUEST_ID="req-sentinel-0001")
    # then
    lines = [line for line in json_log.getvalue().splitlines() if line]
    assert lines, "the scenario logged nothing: the scan would prove nothing"
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert response["X-Request-ID"] == "req-sentinel-0001"
    task_rows = [
        json.dumps([t.name, t.func, t.args, t.kwargs, t.result], default=str)
        for t in Task.objects.all()
    ]
    for sentinel in SENTINELS:
        found = [line for line in lines + task_rows if sentinel.lower() in line.lower()]
        assert found == [], f"{sentinel!r} leaked into: {found[:3]}"
    assert {entry["level"] for entry in entries} <= {
        "DEBUG",
        "INFO",
        "WARNING",
        "ERROR",
    }


def _view(request):
    """A view that logs and enqueues a task, as a send does."""
    logging.getLogger("liaison.test").info("in the request")
    async_task("tests.config.test_log_privacy.record_request_id")
    return HttpResponse("ok")


def test_each_line_carries_its_request_id_and_a_task_inherits_it(json_log):
    # given: nginx's request id
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="abcdef0123456789")
    # when
    response = RequestIdMiddleware(_view)(request)
    # then: on the response, on the request's log line, in the task
    assert response["X-Request-ID"] == "abcdef0123456789"
    entries = [json.loads(line) for line in json_log.getvalue().splitlines() if line]
    [mine] = [e for e in entries if e["message"] == "in the request"]
    assert mine["request_id"] == "abcdef0123456789"
    assert RECORDED[-1] == "abcdef0123456789"
    # An id that does not look like one is replaced.
    forged = RequestFactory().get("/", HTTP_X_REQUEST_ID="<script>")
    assert RequestIdMiddleware(_view)(forged)["X-Request-ID"] != "<script>"


RECORDED: list[str] = []


def record_request_id() -> None:
    from config.request_context import current_request_id

    RECORDED.append(current_request_id())
