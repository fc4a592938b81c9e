from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from clinic.admin_site import StaffAdminSite
from config.health import healthz, healthz_live, healthz_ready
from config.metrics import metrics
from feedback.views import survey_answer
from messaging.email.mailgun import MailgunTrackingWebhookView
from messaging.views import verify
from outreach.waitlist.views import slot_offer
from portal.views.appointments import appointment_action

# Admin asks for a second factor too (issue 5), on a page of its own after the
# password (issue 18): same site object, two-step sign-in.
admin.site.__class__ = StaffAdminSite
admin.site.site_header = "Liaison"
admin.site.site_title = "Liaison"
admin.site.index_title = _("Clinic administration")

urlpatterns = [
    # The brand link: patients land on the portal (or its sign-in page).
    path("", RedirectView.as_view(pattern_name="portal:home"), name="root"),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", healthz_live, name="healthz_live"),
    path("healthz/ready", healthz_ready, name="healthz_ready"),
    path("metrics", metrics, name="metrics"),
    # Browsers ask for /favicon.ico on pages that name no icon (admin's).
    path(
        "favicon.ico",
        RedirectView.as_view(get_redirect_url=lambda *a, **k: static("favicon.svg")),
    ),
    path("verify/", verify, name="verify"),
    # A clinic's logo and theme stylesheet (clinic/views.py), public.
    path("brand/", include("clinic.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The conversation desk left messaging for its own app (docs/conversations.md):
    # a bookmarked page of its old admin address still lands, as anyone's would.
    re_path(
        r"^admin/messaging/(?P<model>conversation|savedreply)/(?P<rest>.*)$",
        RedirectView.as_view(
            url="/admin/conversations/%(model)s/%(rest)s", query_string=True
        ),
    ),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("portal/", include("portal.urls")),
    # One-tap confirm/cancel links in reminders: short, public, signed.
    path("a/<str:token>/", appointment_action, name="appointment_action"),
    # A survey invitation's link: answer without signing in.
    path("s/<str:token>/", survey_answer, name="survey_answer"),
    # A freed slot offered to a waiting patient: take it in one tap.
    path("w/<str:token>/", slot_offer, name="slot_offer"),
    # Email provider tracking webhooks (bounces, complaints), signed;
    # Mailgun's also refuses stale and reused signatures (ahead of Anymail's).
    path(
        "anymail/mailgun/tracking/",
        MailgunTrackingWebhookView.as_view(),
        name="mailgun_tracking_webhook",
    ),
    path("anymail/", include("anymail.urls")),
    path("", include("consent.urls")),
    path("webhooks/", include("messaging.urls")),
    # Partner systems (issue 7): REST v1, its schema and docs.
    path("api/", include("api.urls")),
    path("fhir/r4/", include("api.fhir.urls")),
]

handler404 = "api.errors_http.not_found"
handler500 = "api.errors_http.server_error"
