"""The project's URLs plus ``/bench/ceiling``, the least a Django view can do
behind the same middleware on the same server (the ceiling of bench/api.py),
and ``/bench/one-query``, the same with one indexed query (where a database
round trip puts the ceiling)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def one_query(request: HttpRequest) -> JsonResponse:
    from clinic.models import Organization

    found = Organization.objects.filter(slug="bench").values("id").first()
    return JsonResponse({"ok": found is not None})


urlpatterns = [
    path("bench/ceiling", ceiling),
    path("bench/one-query", one_query),
    *project_urlpatterns,
]
