"""Staff sign-in to admin in two pages: the password, then the second factor.

django-otp's ``OTPAdminSite`` asks for the password and the code on one form,
lists the devices only once the password was right (after a first error) and
then writes the typed password back into the page so the form can be sent
again (``OTPAuthenticationFormMixin._update_form``). Here the password page
checks the password (``AdminAuthenticationForm``: active staff, through the
authentication backends, so django-axes counts and locks) and keeps only the
*pending* user in the session: id, backend and password hash, for
``PENDING_SECONDS``. Nobody is signed in yet. The second page lists that
user's devices from the start (django-otp's ``OTPTokenForm``) and signs in
with Django's ``login()`` once a code is right; django-otp then records the
device in the session. A wrong code counts as a failed sign-in of the same
(account, address) pair, so the lockout covers both pages.
"""

from __future__ import annotations

import time

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django_otp import devices_for_user
from django_otp.admin import OTPAdminSite
from django_otp.forms import OTPTokenForm
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from django import forms
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import (
    REDIRECT_FIELD_NAME,
    get_user_model,
    login,
    user_login_failed,
)
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from clinic import time_zones
from clinic.admin_tasks import tasks_from_app_list
from clinic.models import StaffMember
from clinic.validators import validate_time_zone

PENDING_KEY = "admin_sign_in_pending"
PENDING_SECONDS = 300  # between the password page and the code


def device_label(device) -> str:
    """What a staff member sees in the list of their devices."""
    if isinstance(device, TOTPDevice):
        label = gettext("Authenticator app")
    elif isinstance(device, StaticDevice):
        label = gettext("Backup codes")
    elif isinstance(device, EmailDevice):
        label = gettext("Code by email")
    else:
        label = str(device._meta.verbose_name).capitalize()
    if not device.name:
        return label
    if label.casefold() in device.name.casefold():
        return device.name
    return f"{label} ({device.name})"


class SecondFactorForm(OTPTokenForm):
    """django-otp's token form with the choices named for people."""

    otp_device = forms.ChoiceField(label=_("Second factor"), choices=[])
    otp_token = forms.CharField(
        label=_("Code"),
        required=False,
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    @staticmethod
    def device_choices(user):
        # No blank entry: the list is on the page from the start, so the
        # first device is a visible choice, not a guess.
        return [(d.persistent_id, device_label(d)) for d in devices_for_user(user)]

    def wrong_code(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, code="invalid_token")


def _pending_user(request: HttpRequest):
    """The user whose password was right on this session's password page, or
    None when there is none, it is too old, or the password changed since."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = get_user_model()._default_manager.filter(pk=pending["user_id"]).first()
    if (
        user is None
        or not user.is_active
        or not user.is_staff
        or not constant_time_compare(pending["hash"], user.get_session_auth_hash())
    ):
        return None
    user.backend = pending["backend"]
    return user


class PasswordStepView(LoginView):
    """Admin's login page: checks the password, signs nobody in."""

    def form_valid(self, form):
        user = form.get_user()
        self.request.session[PENDING_KEY] = {
            "user_id": user.pk,
            "backend": user.backend,
            "hash": user.get_session_auth_hash(),
            "at": time.time(),
        }
        query = urlencode({REDIRECT_FIELD_NAME: self.get_success_url()})
        return HttpResponseRedirect(f"{reverse('admin:login_second_factor')}?{query}")

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")


@method_decorator(sensitive_post_parameters("otp_token"), name="dispatch")
class SecondFactorStepView(LoginView):
    """The code, for the user the password page left pending."""

    template_name = "admin/login_second_factor.html"
    admin_site = None

    def dispatch(self, request, *args, **kwargs):
        self.pending_user = _pending_user(request)
        if self.pending_user is None:
            request.session.pop(PENDING_KEY, None)
            return redirect("admin:login")
        credentials = {"username": self.pending_user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            return get_lockout_response(request, None, credentials)
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")

    def get_form(self, form_class=None):
        return SecondFactorForm(
            self.pending_user, self.request, **self.get_form_kwargs()
        )

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("request", None)
        return kwargs

    def form_valid(self, form):
        user = form.get_user()
        self.request.session.pop(PENDING_KEY, None)
        login(self.request, user)  # django-otp keeps user.otp_device
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        if form.wrong_code():
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self.pending_user.get_username()},
                request=self.request,
            )
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        devices = list(devices_for_user(self.pending_user))
        return {
            **self.admin_site.each_context(self.request),
            **context,
            "title": gettext("Confirm it is you"),
            "subtitle": None,
            "app_path": self.request.get_full_path(),
            # Email codes are sent on request ("Send me a code").
            "sends_codes": any(isinstance(d, EmailDevice) for d in devices),
            "has_devices": bool(devices),
        }


def _organization_name(request: HttpRequest) -> str:
    """The signed-in staff member's organization, named in the header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return ""
    name = (
        StaffMember.objects.filter(user=user)
        .order_by("pk")
        .values_list("organization__name", flat=True)
        .first()
    )
    return name or ""


class StaffAdminSite(OTPAdminSite):
    """``OTPAdminSite`` (pages need a verified user) with the two-page sign-in."""

    login_form = AdminAuthenticationForm
    login_template = "admin/login.html"

    def get_urls(self):
        second = SecondFactorStepView.as_view(admin_site=self)
        return [
            path(
                "login/second-factor/",
                self._with_app(second),
                name="login_second_factor",
            ),
            path(
                "time-zone/",
                self.admin_view(require_POST(self.time_zone_set)),
                name="time_zone_set",
            ),
            *super().get_urls(),
        ]

    def each_context(self, request: HttpRequest) -> dict:
        """Every admin page says which zone its times are in (the header);
        a superuser also gets the zones to choose from."""
        context = super().each_context(request)
        # The index and the sidebar list models by task (clinic/admin_tasks.py).
        context["available_tasks"] = tasks_from_app_list(context["available_apps"])
        context["staff_organization_name"] = _organization_name(request)
        zone = getattr(request, "staff_time_zone", None)
        context["staff_time_zone"] = zone
        context["staff_time_zone_label"] = time_zones.zone_label(zone)
        if zone is not None and request.user.is_superuser:
            context["staff_time_zone_choices"] = time_zones.time_zone_choices(zone)
        return context

    def time_zone_set(self, request: HttpRequest) -> HttpResponse:
        """A superuser's choice of zone, kept in the session."""
        if not request.user.is_superuser:
            raise PermissionDenied
        zone = request.POST.get("time_zone", "")
        try:
            validate_time_zone(zone)
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            request.session[time_zones.SESSION_KEY] = zone
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target,
            allowed_hosts={request.get_host()},
            require_https=request.is_secure(),
        ):
            target = reverse("admin:index", current_app=self.name)
        return HttpResponseRedirect(target)

    def _with_app(self, view):
        def wrapped(request, *args, **kwargs):
            request.current_app = self.name
            return view(request, *args, **kwargs)

        return wrapped

    @method_decorator(never_cache)
    def login(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": gettext("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
            **(extra_context or {}),
        }
        if (
            REDIRECT_FIELD_NAME not in request.GET
            and REDIRECT_FIELD_NAME not in request.POST
        ):
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        request.current_app = self.name
        return PasswordStepView.as_view(
            extra_context=context,
            authentication_form=self.login_form,
            template_name=self.login_template,
        )(request)
