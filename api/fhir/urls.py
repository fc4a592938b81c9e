"""FHIR R4 facade (``/fhir/r4/``)."""

from django.urls import path

from api.fhir import capability, views_clinic, views_feedback, views_messaging

app_name = "fhir"

resource_urlpatterns = [
    path("Patient", views_clinic.PatientTypeView.as_view(), name="patient-type"),
    path(
        "Patient/<uuid:id>",
        views_clinic.PatientInstanceView.as_view(),
        name="patient-instance",
    ),
    path(
        "Appointment",
        views_clinic.AppointmentTypeView.as_view(),
        name="appointment-type",
    ),
    path(
        "Appointment/<uuid:id>",
        views_clinic.AppointmentInstanceView.as_view(),
        name="appointment-instance",
    ),
    path(
        "Appointment/<uuid:id>/_history/<str:vid>",
        views_clinic.AppointmentVersionView.as_view(),
        name="appointment-version",
    ),
    path(
        "CommunicationRequest",
        views_messaging.CommunicationRequestTypeView.as_view(),
        name="communicationrequest-type",
    ),
    path(
        "CommunicationRequest/<uuid:id>",
        views_messaging.CommunicationRequestInstanceView.as_view(),
        name="communicationrequest-instance",
    ),
    path(
        "CommunicationRequest/<uuid:id>/_history/<str:vid>",
        views_messaging.CommunicationRequestVersionView.as_view(),
        name="communicationrequest-version",
    ),
    path(
        "Communication",
        views_messaging.CommunicationTypeView.as_view(),
        name="communication-type",
    ),
    path(
        "Communication/<uuid:id>",
        views_messaging.CommunicationInstanceView.as_view(),
        name="communication-instance",
    ),
    path("Consent", views_messaging.ConsentTypeView.as_view(), name="consent-type"),
    path(
        "Consent/<uuid:id>",
        views_messaging.ConsentInstanceView.as_view(),
        name="consent-instance",
    ),
    path(
        "QuestionnaireResponse",
        views_feedback.QuestionnaireResponseTypeView.as_view(),
        name="questionnaireresponse-type",
    ),
    path(
        "QuestionnaireResponse/<uuid:id>",
        views_feedback.QuestionnaireResponseInstanceView.as_view(),
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
