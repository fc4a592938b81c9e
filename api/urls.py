from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from django.urls import include, path

from api import (
    views_appointments,
    views_consent,
    views_conversations,
    views_messages,
    views_patients,
    views_surveys,
    views_webhooks,
)

app_name = "api"

router = SimpleRouter(trailing_slash=True)
router.register("patients", views_patients.PatientViewSet, basename="patient")
router.register(
    "appointments", views_appointments.AppointmentViewSet, basename="appointment"
)
router.register("messages", views_messages.MessageViewSet, basename="message")
router.register(
    "conversations", views_conversations.ConversationViewSet, basename="conversation"
)
router.register("consent", views_consent.ConsentViewSet, basename="consent")

router.register("surveys", views_surveys.SurveyViewSet, basename="survey")
router.register(
    "survey-responses", views_surveys.SurveyResponseViewSet, basename="survey-response"
)

router.register(
    "webhooks", views_webhooks.WebhookSubscriptionViewSet, basename="webhook"
)

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: CSP allows no inline script.
    path(
        "docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"
    ),
]
