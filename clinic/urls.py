"""A clinic's logo and theme, under ``/brand/`` (``config/urls.py``)."""

from django.urls import path

from clinic import views

app_name = "clinic"

urlpatterns = [
    path("<uuid:public_id>/logo", views.brand_logo, name="brand-logo"),
    path("<uuid:public_id>/theme.css", views.brand_theme, name="brand-theme"),
]
