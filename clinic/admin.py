from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinic import imports, services
from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.branding import branding_for, logo_check_size, logo_inspect
from clinic.models import (
    Appointment,
    Caregiver,
    Organization,
    Patient,
    Site,
    StaffMember,
    Team,
    VisitType,
)
from clinic.roles import ROLE_PURPOSES, purposes_text
from clinic.scoping import staff_organization_id


class CurrentLogo:
    """The stored logo as ClearableFileInput shows it: a link and a name."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return gettext("current logo")


class OrganizationAdminForm(forms.ModelForm):
    """The organization with its branding: the logo is checked by decoding
    it (clinic.branding.logo_inspect) and stored by the services, in the
    database; "Clear" removes it."""

    logo = forms.FileField(
        label=_("logo"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp"}
        ),
        help_text=_(
            "PNG, JPEG or WebP, at most 200 KB and 2000 pixels a side. Shown "
            "in the portal's header, on the verify page and in emails."
        ),
    )

    class Meta:
        model = Organization
        # The admin names the fields (its fieldsets); logo is this form's own.
        fields = [
            "name",
            "slug",
            "time_zone",
            "default_language",
            "country",
            "contact_email",
            "contact_phone",
            "sender_name",
            "accent_colour",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.logo_data: bytes | None = None
        if self.instance.logo_hash:
            self.initial["logo"] = CurrentLogo(branding_for(self.instance).logo_url)

    def clean_accent_colour(self) -> str:
        return self.cleaned_data["accent_colour"].strip().lower()

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if hasattr(logo, "read"):  # a new upload
            logo_check_size(logo.size)  # before it is read
            data = logo.read()
            logo_inspect(data)
            self.logo_data = data
        return logo


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    form = OrganizationAdminForm
    list_display = ["name", "slug", "country", "time_zone", "default_language"]
    search_fields = ["name", "slug"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "time_zone",
                    "default_language",
                    "country",
                    "contact_email",
                    "contact_phone",
                ]
            },
        ),
        (
            _("Branding"),
            {
                "fields": ["sender_name", "accent_colour", "logo", "logo_preview"],
                "description": _(
                    "What patients see in the portal, on the verify page and in emails."
                ),
            },
        ),
    ]

    @admin.display(description=_("logo as shown"))
    def logo_preview(self, obj: Organization | None) -> str:
        url = branding_for(obj).logo_url if obj is not None else ""
        if not url:
            return gettext("No logo: pages show the organization's name.")
        return format_html('<img src="{}" alt="" height="48">', url)

    def save_model(
        self, request: HttpRequest, obj: Organization, form, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("logo") is False:  # "Clear" ticked
            services.organization_logo_clear(organization=obj)
        elif form.logo_data is not None:
            services.organization_logo_set(organization=obj, data=form.logo_data)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["logo_preview"] + ([] if request.user.is_superuser else ["slug"])

    def get_prepopulated_fields(self, request: HttpRequest, obj=None):
        # A read-only slug is not in the form: prepopulating it was a 500.
        return {"slug": ["name"]} if request.user.is_superuser else {}


@admin.register(Site)
class SiteAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "phone"]
    list_filter = ["organization"]
    search_fields = ["name", "address"]


@admin.register(StaffMember)
class StaffMemberAdmin(OrganizationScopedAdmin):
    list_display = ["__str__", "role", "sends_purposes", "organization"]
    list_filter = ["organization", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["sites"]
    list_select_related = ["user", "organization"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Accounts are created by superusers; clinic admins assign roles and sites.
        fixed = [] if request.user.is_superuser else ["user", "organization"]
        return [*fixed, "sends_purposes"]

    @admin.display(description=_("may send to many patients"))
    def sends_purposes(self, obj: StaffMember) -> str:
        """The topic purposes the role may use in campaigns, bulk sends and
        API keys (clinic.roles.ROLE_PURPOSES)."""
        return purposes_text(ROLE_PURPOSES.get(obj.role, frozenset()))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser


@admin.register(Team)
class TeamAdmin(OrganizationScopedAdmin):
    """Staff who share a conversation queue (issue 8); members of the same
    organization only (the member and site choices are scoped)."""

    list_display = ["name", "site", "handles_feedback", "organization"]
    list_filter = ["organization", "site", "handles_feedback"]
    search_fields = ["name"]
    filter_horizontal = ["members"]
    list_select_related = ["site", "organization"]


class AppointmentInline(admin.TabularInline):
    model = Appointment
    fields = ["starts_at", "ends_at", "site", "kind", "status", "external_id"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(OrganizationScopedAdmin):
    list_display = [
        "identifier",
        "family_name",
        "given_name",
        "birth_date",
        "preferred_language",
        "organization",
    ]
    list_filter = ["organization", "preferred_language"]
    search_fields = ["identifier", "family_name", "given_name", "email", "phone"]
    list_select_related = ["organization"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [AppointmentInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "organization",
                    "identifier",
                    "given_name",
                    "family_name",
                    "birth_date",
                ]
            },
        ),
        (
            _("Communication"),
            {"fields": ["preferred_language", "time_zone", "email", "phone"]},
        ),
        (_("Portal"), {"fields": ["user", "public_id", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("user")  # bound by enrolment, never picked from a list
        return fields

    def save_model(
        self, request: HttpRequest, obj: Patient, form, change: bool
    ) -> None:
        services.patient_save(patient=obj)


@admin.register(Caregiver)
class CaregiverAdmin(OrganizationScopedAdmin):
    list_display = ["user", "patient", "relationship", "created_at"]
    list_filter = ["relationship"]
    search_fields = ["user__username", "patient__family_name", "patient__identifier"]
    autocomplete_fields = ["patient"]
    list_select_related = ["user", "patient"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if request.user.is_superuser else ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Caregivers join by invitation; only superusers bind accounts by hand.
        return request.user.is_superuser


@admin.register(Appointment)
class AppointmentAdmin(OrganizationScopedAdmin):
    list_display = ["starts_at", "patient", "site", "practitioner", "kind", "status"]
    list_filter = ["organization", "status", "site"]
    search_fields = ["patient__family_name", "patient__identifier", "external_id"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "starts_at"
    list_select_related = ["patient", "site", "practitioner__user"]
    readonly_fields = ["public_id", "created_at", "updated_at"]

    def save_model(
        self, request: HttpRequest, obj: Appointment, form, change: bool
    ) -> None:
        services.appointment_save(appointment=obj)

    # Import from CSV (clinic.imports): upload, preview, confirm.

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="clinic_appointment_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a CSV, see what it would do row by row, then confirm.

        Between the two steps the validated file travels in a signed hidden
        field (bound to the user and organization, valid 30 minutes), not in
        the session or on disk: patient identifiers are not stored anywhere on
        the server. The confirmation plans again and imports only if the plan
        is still the one previewed.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        may_update = self.has_change_permission(request)
        if request.method == "POST" and "token" in request.POST:
            step = _import_confirm(request, may_update=may_update)
        elif request.method == "POST":
            step = _import_preview(request, may_update=may_update)
        else:
            step = _ImportStep(form=AppointmentImportForm(user=request.user))
        if step.response is not None:
            return step.response
        plan = step.plan
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Import appointments from CSV"),
            "form": step.form,
            "plan": plan,
            "rows": _import_rows(plan, step.organization),
            "token": step.token,
            "organization": step.organization,
            "required_columns": imports.REQUIRED_COLUMNS,
            "optional_columns": imports.OPTIONAL_COLUMNS,
            "max_kb": imports.MAX_BYTES // 1000,
            "max_rows": imports.MAX_ROWS,
            "counts": plan and plan.counts,
        }
        return TemplateResponse(
            request, "admin/clinic/appointment/import.html", context
        )


@dataclass
class _ImportStep:
    """Where the import page stands after a request: the upload form, the
    plan to show (with its token when it may be confirmed), or a response
    that ends the request (a redirect)."""

    form: forms.Form
    plan: imports.ImportPlan | None = None
    token: str | None = None
    organization: Organization | None = None
    response: HttpResponse | None = None


def _import_preview(request: HttpRequest, *, may_update: bool) -> _ImportStep:
    """The upload: the file's plan, and a token to confirm it when it is fine."""
    form = AppointmentImportForm(request.POST, request.FILES, user=request.user)
    step = _ImportStep(form=form)
    if not form.is_valid():
        return step
    step.organization = form.cleaned_data["organization"]
    upload = form.cleaned_data["file"]
    try:
        if upload.size > imports.MAX_BYTES:
            raise imports.too_big()
        text = imports.csv_decode(upload.read())
    except imports.ImportRefusedError as refused:
        step.plan = refused.plan
        return step
    step.plan = imports.appointments_import_plan(
        organization=step.organization, text=text, may_update=may_update
    )
    if step.plan.ok:
        step.token = _import_token(request, step.organization, text, step.plan)
    return step


def _import_confirm(request: HttpRequest, *, may_update: bool) -> _ImportStep:
    """The confirmation: import the previewed file, or show why not (a new
    preview when the appointments changed since)."""
    step = _ImportStep(form=AppointmentImportForm(user=request.user))
    try:
        payload = signing.loads(
            request.POST["token"], salt=IMPORT_SALT, max_age=IMPORT_TOKEN_MAX_AGE
        )
    except signing.BadSignature:
        messages.error(request, gettext("This preview expired. Upload the file again."))
        step.response = HttpResponseRedirect(request.path)
        return step
    step.organization = _import_organization(request, payload.get("organization"))
    if payload.get("user") != request.user.pk or step.organization is None:
        raise PermissionDenied
    try:
        plan = imports.appointments_import(
            organization=step.organization,
            text=payload["text"],
            may_update=may_update,
            expected_fingerprint=payload["fingerprint"],
        )
    except imports.ImportRefusedError as refused:
        step.plan = refused.plan
        return step
    except imports.ImportChangedError as changed:
        step.plan = changed.plan
        step.token = _import_token(
            request, step.organization, payload["text"], changed.plan
        )
        messages.warning(
            request,
            gettext(
                "The appointments changed since the preview. Check this "
                "new preview and confirm again."
            ),
        )
        return step
    counts = plan.counts
    messages.success(
        request,
        gettext(
            "Imported: %(created)d created, %(updated)d updated, "
            "%(unchanged)d unchanged."
        )
        % {
            "created": counts[imports.Action.CREATE],
            "updated": counts[imports.Action.UPDATE],
            "unchanged": counts[imports.Action.UNCHANGED],
        },
    )
    step.response = HttpResponseRedirect(reverse("admin:clinic_appointment_changelist"))
    return step


def _import_rows(
    plan: imports.ImportPlan | None, organization: Organization | None
) -> list[dict]:
    """The preview table: one row per planned appointment, times in the
    organization's local time."""
    if plan is None or organization is None:
        return []
    return [
        {
            "line": row.line,
            "action": row.action,
            "patient": row.appointment.patient.identifier,
            "site": row.appointment.site.name,
            "starts_at": imports.local_display(row.appointment.starts_at, organization),
            "ends_at": imports.local_display(row.appointment.ends_at, organization),
            "kind": row.appointment.kind,
            "practitioner": row.appointment.practitioner or "",
            "external_id": row.appointment.external_id,
            "changes": ", ".join(row.changes),
        }
        for row in plan.rows
    ]


IMPORT_SALT = "clinic.imports.appointments"
IMPORT_TOKEN_MAX_AGE = 30 * 60


def _import_organization(request: HttpRequest, organization_id) -> Organization | None:
    """The organization the user may import into: their own, or any for a superuser."""
    if not request.user.is_superuser:
        organization_id = staff_organization_id(request.user)
    return Organization.objects.filter(pk=organization_id).first()


def _import_token(
    request: HttpRequest, organization: Organization, text: str, plan
) -> str:
    return signing.dumps(
        {
            "user": request.user.pk,
            "organization": organization.pk,
            "text": text,
            "fingerprint": plan.fingerprint,
        },
        salt=IMPORT_SALT,
        compress=True,
    )


class AppointmentImportForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.all()
    )
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, columns separated by commas or semicolons."),
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.is_superuser:
            # Staff import into their own organization only.
            del self.fields["organization"]

    def clean(self):
        data = super().clean()
        if not self.user.is_superuser:
            data["organization"] = Organization.objects.filter(
                pk=staff_organization_id(self.user)
            ).first()
            if data["organization"] is None:
                raise PermissionDenied
        return data


@admin.register(VisitType)
class VisitTypeAdmin(OrganizationScopedAdmin):
    """The names patients read for each appointment kind (clinic.visit_types)."""

    list_display = ["code", "name_fr", "name_en", "organization"]
    list_filter = ["organization"]
    search_fields = ["code", "name_fr", "name_en"]
    fields = ["organization", "code", "name_fr", "name_en"]
