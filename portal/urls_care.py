"""The patient's appointments, preference centre and data rights."""

from django.urls import path

from portal import (
    views_appointments,
    views_contact,
    views_data,
    views_feedback,
    views_preferences,
    views_waitlist,
)

urlpatterns = [
    path("appointments/", views_appointments.appointment_list, name="appointments"),
    path(
        "appointments/<uuid:public_id>/confirm/",
        views_appointments.appointment_confirm_view,
        name="appointment_confirm",
    ),
    path(
        "appointments/<uuid:public_id>/cancel/",
        views_appointments.appointment_cancel_view,
        name="appointment_cancel",
    ),
    path(
        "appointments/<uuid:public_id>/calendar.ics",
        views_appointments.appointment_calendar,
        name="appointment_calendar",
    ),
    path("appointments/waitlist/", views_waitlist.waitlist, name="waitlist"),
    path(
        "appointments/waitlist/<uuid:public_id>/leave/",
        views_waitlist.waitlist_leave,
        name="waitlist_leave",
    ),
    path("preferences/", views_preferences.preferences, name="preferences"),
    path("preferences/contact/", views_contact.contact_details, name="contact_details"),
    path(
        "preferences/contact/<uuid:public_id>/",
        views_contact.contact_confirm,
        name="contact_confirm",
    ),
    path("feedback/", views_feedback.feedback_home, name="feedback"),
    path("data/", views_data.data_home, name="data"),
    path("data/export.json", views_data.data_export_json, name="data_export_json"),
    path("data/export.fhir.json", views_data.data_export_fhir, name="data_export_fhir"),
    path("data/summary/", views_data.data_summary, name="data_summary"),
    path("data/summary.pdf", views_data.data_summary_pdf, name="data_summary_pdf"),
    path("data/erasure/", views_data.data_erasure, name="data_erasure"),
    path(
        "data/erasure/<uuid:public_id>/withdraw/",
        views_data.data_erasure_withdraw,
        name="data_erasure_withdraw",
    ),
    path("data/objection/", views_data.data_objection, name="data_objection"),
    path(
        "data/objection/lift/",
        views_data.data_objection_lift,
        name="data_objection_lift",
    ),
    path("data/access/", views_data.data_access_log, name="data_access_log"),
]
