"""Second factor and session pages, under /portal/security/."""

from django.urls import path

from portal.auth import views

urlpatterns = [
    path("security/verify/", views.verify, name="auth_verify"),
    path("security/", views.devices, name="auth_devices"),
    path("security/app/", views.totp_add, name="auth_totp_add"),
    path("security/email/", views.email_add, name="auth_email_add"),
    path("security/sms/", views.sms_add, name="auth_sms_add"),
    path("security/backup-codes/", views.backup_codes, name="auth_backup_codes"),
    path("security/remove/", views.device_remove, name="auth_device_remove"),
    path("security/session/", views.session_status, name="auth_session_status"),
    path("security/keep-alive/", views.keep_alive, name="auth_keep_alive"),
    path("signed-out/", views.signed_out, name="auth_signed_out"),
]
