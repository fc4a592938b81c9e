from django.urls import path

from consent import views

app_name = "consent"

urlpatterns = [
    path("unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
]
