"""The OpenAPI schema, generated from the code as ``/api/schema/`` serves it,
against the URL conf: every routed ``/api/v1/`` endpoint and method is
documented, with the scope its view really checks and the conventions' answers.
An endpoint added without its schema (or hidden from it) fails here."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from django.core.management import call_command

from api.problems import PROBLEM_JSON
from tests.api.scope_support import ROUTES, needed_scope

GROUP = re.compile(r"\(\?P<(\w+)>[^()]*\)")


def openapi_path(routed: str) -> str:
    """``api/v1/^patients/(?P<id>…)/$`` → ``/api/v1/patients/{id}/``."""
    path = GROUP.sub(r"{\1}", routed.replace("^", "").replace("$", ""))
    assert "(" not in path, f"cannot read the route {routed!r}"
    return "/" + path


REST = [(r, m) for r, m in ROUTES if r.path.startswith("api/v1/")]


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi(schema):
    """It validates against the OpenAPI 3 specification."""
    validate_schema(schema)


def test_the_schema_generates_without_warnings():
    """drf-spectacular guesses nothing: every body and parameter is declared."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_rest_routes_are_found():
    """The URL walk finds the REST endpoints (an empty walk checks nothing)."""
    assert len(REST) > 10


@pytest.mark.parametrize(("route", "method"), REST, ids=str)
def test_every_route_and_method_is_documented(schema, route, method):
    """Path and method in the schema, with the scope the view checks, the
    problem answers every operation can give, and Idempotency-Key on POST."""
    path = openapi_path(route.path)
    assert path in schema["paths"], f"{route} ({path}) is not in the schema"
    operation = schema["paths"][path].get(method)
    assert operation, f"{method.upper()} {path} is not in the schema"
    assert operation["x-required-scope"] == needed_scope(route, method)
    for status in ("401", "403", "429"):
        content = operation["responses"][status]["content"]
        assert PROBLEM_JSON in content, f"{method.upper()} {path} {status}"
    headers = {
        p["name"] for p in operation.get("parameters", []) if p["in"] == "header"
    }
    assert ("Idempotency-Key" in headers) == (method == "post")


def test_the_schema_documents_nothing_that_is_not_routed(schema):
    """No stale path: each documented operation is a routed one."""
    routed = {(openapi_path(r.path), m) for r, m in REST}
    documented = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented <= routed, documented - routed
