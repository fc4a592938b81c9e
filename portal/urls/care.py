"""The patient's appointments, preference centre and data rights."""

from django.urls import path

from portal.views import (
    appointments,
    contact,
    data,
    feedback,
    preferences,
    waitlist,
)

urlpatterns = [
    path("appointments/", appointments.appointment_list, name="appointments"),
    path(
        "appointments/<uuid:public_id>/confirm/",
        appointments.appointment_confirm_view,
        name="appointment_confirm",
    ),
    path(
        "appointments/<uuid:public_id>/cancel/",
        appointments.appointment_cancel_view,
        name="appointment_cancel",
    ),
    path(
        "appointments/<uuid:public_id>/calendar.ics",
        appointments.appointment_calendar,
        name="appointment_calendar",
    ),
    path("appointments/waitlist/", waitlist.waitlist, name="waitlist"),
    path(
        "appointments/waitlist/<uuid:public_id>/leave/",
        waitlist.waitlist_leave,
        name="waitlist_leave",
    ),
    path("preferences/", preferences.preferences, name="preferences"),
    path("preferences/contact/", contact.contact_details, name="contact_details"),
    path(
        "preferences/contact/<uuid:public_id>/",
        contact.contact_confirm,
        name="contact_confirm",
    ),
    path("feedback/", feedback.feedback_home, name="feedback"),
    path("data/", data.data_home, name="data"),
    path("data/export.json", data.data_export_json, name="data_export_json"),
    path("data/export.fhir.json", data.data_export_fhir, name="data_export_fhir"),
    path("data/summary/", data.data_summary, name="data_summary"),
    path("data/summary.pdf", data.data_summary_pdf, name="data_summary_pdf"),
    path("data/erasure/", data.data_erasure, name="data_erasure"),
    path(
        "data/erasure/<uuid:public_id>/withdraw/",
        data.data_erasure_withdraw,
        name="data_erasure_withdraw",
    ),
    path("data/objection/", data.data_objection, name="data_objection"),
    path(
        "data/objection/lift/",
        data.data_objection_lift,
        name="data_objection_lift",
    ),
    path("data/access/", data.data_access_log, name="data_access_log"),
]
