from django.contrib import admin
from django.urls import include, path

from config.health import healthz
from messaging.views import verify

admin.site.site_header = "Liaison"
admin.site.site_title = "Liaison"
admin.site.index_title = "Clinic administration"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("verify/", verify, name="verify"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
    # Email provider tracking webhooks (bounces, complaints), signed.
    path("anymail/", include("anymail.urls")),
    path("", include("consent.urls")),
    path("webhooks/", include("messaging.urls")),
]
