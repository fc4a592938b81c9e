from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from django.urls import include, path

from api.views.appointments import AppointmentViewSet
from api.views.consent import ConsentViewSet
from api.views.conversations import ConversationViewSet
from api.views.messages import MessageViewSet
from api.views.patients import PatientViewSet
from api.views.surveys import SurveyResponseViewSet, SurveyViewSet
from api.views.webhooks import WebhookSubscriptionViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=True)
router.register("patients", PatientViewSet, basename="patient")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("messages", MessageViewSet, basename="message")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("consent", ConsentViewSet, basename="consent")

router.register("surveys", SurveyViewSet, basename="survey")
router.register("survey-responses", SurveyResponseViewSet, basename="survey-response")

router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: CSP allows no inline script.
    path(
        "docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"
    ),
]
