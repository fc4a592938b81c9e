"""FHIR R4 facade (``/fhir/r4/``)."""

from django.urls import path

from api.fhir import capability
from api.fhir.views import clinic as clinic_views
from api.fhir.views import feedback as feedback_views
from api.fhir.views import messaging as messaging_views

app_name = "fhir"

resource_urlpatterns = [
    path("Patient", clinic_views.PatientTypeView.as_view(), name="patient-type"),
    path(
        "Patient/<uuid:id>",
        clinic_views.PatientInstanceView.as_view(),
        name="patient-instance",
    ),
    path(
        "Appointment",
        clinic_views.AppointmentTypeView.as_view(),
        name="appointment-type",
    ),
    path(
        "Appointment/<uuid:id>",
        clinic_views.AppointmentInstanceView.as_view(),
        name="appointment-instance",
    ),
    path(
        "Appointment/<uuid:id>/_history/<str:vid>",
        clinic_views.AppointmentVersionView.as_view(),
        name="appointment-version",
    ),
    path(
        "CommunicationRequest",
        messaging_views.CommunicationRequestTypeView.as_view(),
        name="communicationrequest-type",
    ),
    path(
        "CommunicationRequest/<uuid:id>",
        messaging_views.CommunicationRequestInstanceView.as_view(),
        name="communicationrequest-instance",
    ),
    path(
        "CommunicationRequest/<uuid:id>/_history/<str:vid>",
        messaging_views.CommunicationRequestVersionView.as_view(),
        name="communicationrequest-version",
    ),
    path(
        "Communication",
        messaging_views.CommunicationTypeView.as_view(),
        name="communication-type",
    ),
    path(
        "Communication/<uuid:id>",
        messaging_views.CommunicationInstanceView.as_view(),
        name="communication-instance",
    ),
    path("Consent", messaging_views.ConsentTypeView.as_view(), name="consent-type"),
    path(
        "Consent/<uuid:id>",
        messaging_views.ConsentInstanceView.as_view(),
        name="consent-instance",
    ),
    path(
        "QuestionnaireResponse",
        feedback_views.QuestionnaireResponseTypeView.as_view(),
        name="questionnaireresponse-type",
    ),
    path(
        "QuestionnaireResponse/<uuid:id>",
        feedback_views.QuestionnaireResponseInstanceView.as_view(),
        name="questionnaireresponse-instance",
    ),
]

urlpatterns = [
    path(
        "metadata",
        capability.MetadataView.as_view(routes=resource_urlpatterns),
        name="metadata",
    ),
    *resource_urlpatterns,
]
