from django.urls import path

from portal.views import appointments, home

urlpatterns = [
    path("", home.home, name="home"),
    path("more/", home.more, name="more"),
    path("act-for/<uuid:public_id>/", home.act_for, name="act_for"),
    path("act-for/myself/", home.act_for_myself, name="act_for_myself"),
    # Hiding an appointment from proxies (beside the appointment routes of
    # portal/urls/care.py, which another part owns).
    path(
        "appointments/<uuid:public_id>/hide/",
        appointments.appointment_hide_view,
        name="appointment_hide",
    ),
    path(
        "appointments/<uuid:public_id>/unhide/",
        appointments.appointment_unhide_view,
        name="appointment_unhide",
    ),
]
