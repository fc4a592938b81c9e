from django.urls import path

from portal.views.enrol import enrol_view

urlpatterns = [
    path("enrol/<str:token>/", enrol_view, name="enrol"),
]
