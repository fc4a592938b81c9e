"""The project's URLs plus ``/bench/ceiling``: the least a Django view can do
behind the same middleware, on the same server (the ceiling of bench/api.py)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/ceiling", ceiling), *project_urlpatterns]
