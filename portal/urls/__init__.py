"""The patient portal, under /portal/. Each part keeps its routes in its own
module so parts grow without touching each other."""

from django.urls import include, path

app_name = "portal"

urlpatterns = [
    path("", include("portal.urls.home")),
    path("", include("portal.urls.enrol")),
    path("", include("portal.urls.care")),
    path("", include("portal.urls.inbox")),
    path("", include("portal.urls.auth")),
]
