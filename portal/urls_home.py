from django.urls import path

from portal import views_home

urlpatterns = [
    path("", views_home.home, name="home"),
    path("act-for/<uuid:public_id>/", views_home.act_for, name="act_for"),
    path("act-for/myself/", views_home.act_for_myself, name="act_for_myself"),
]
