"""One request id per request, carried into the tasks it enqueues.

nginx sends ``X-Request-ID`` (deploy/nginx/liaison.conf); without one (or with
one that does not look like an id) a fresh id is made. It is on every log line
of the request (``config.log_format``), in the response's ``X-Request-ID``, and
in the django-q2 tasks the request enqueues: ``pre_enqueue`` writes it into the
task, ``pre_execute`` restores it in the worker, so a send can be followed from
the click to the provider's answer. A scheduled task gets ``task-<task id>``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "liaison_request_id", default=""
)
ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,64}")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if ACCEPTED.fullmatch(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


def task_enqueued(sender, task: dict, **kwargs) -> None:
    request_id = _request_id.get()
    if request_id:
        task["request_id"] = request_id


def task_starting(sender, func, task: dict, **kwargs) -> None:
    _request_id.set(task.get("request_id") or f"task-{task.get('id', '')}")


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True
