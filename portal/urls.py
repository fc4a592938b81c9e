"""The patient portal, under /portal/. Each part keeps its routes in its own
module so parts grow without touching each other."""

from django.urls import include, path

app_name = "portal"

urlpatterns = [
    path("", include("portal.urls_home")),
    path("", include("portal.urls_enrol")),
    path("", include("portal.urls_care")),
    path("", include("portal.urls_inbox")),
    path("", include("portal.urls_auth")),
]
