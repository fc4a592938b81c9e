from django.urls import path

from portal import views_appointments, views_home

urlpatterns = [
    path("", views_home.home, name="home"),
    path("more/", views_home.more, name="more"),
    path("act-for/<uuid:public_id>/", views_home.act_for, name="act_for"),
    path("act-for/myself/", views_home.act_for_myself, name="act_for_myself"),
    # Hiding an appointment from proxies (beside the appointment routes of
    # urls_care, which another part owns).
    path(
        "appointments/<uuid:public_id>/hide/",
        views_appointments.appointment_hide_view,
        name="appointment_hide",
    ),
    path(
        "appointments/<uuid:public_id>/unhide/",
        views_appointments.appointment_unhide_view,
        name="appointment_unhide",
    ),
]
