"""Care records everything else points at: organizations, staff, patients
(appointments in clinic/appointments/models.py, imported back below)."""

import uuid

from phonenumber_field.modelfields import PhoneNumberField

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.branding import (
    LOGO_FORMATS,
    validate_accent_colour,
    validate_sender_name,
)
from clinic.scoping import OrganizationScopedQuerySet
from clinic.validators import validate_birth_date, validate_time_zone


class Language(models.TextChoices):
    FRENCH = "fr", _("French")
    ENGLISH = "en", _("English")


class Country(models.TextChoices):
    # Countries whose public holidays and marketing windows Liaison knows.
    FRANCE = "FR", _("France")
    UNITED_STATES = "US", _("United States")


class OrganizationQuerySet(OrganizationScopedQuerySet):
    organization_path = "pk"


class Organization(models.Model):
    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, validators=[validate_time_zone]
    )
    default_language = models.CharField(
        _("default language"), max_length=2, choices=Language.choices
    )
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = PhoneNumberField(_("contact phone"), blank=True)
    # Branding (clinic/branding.py): what patients see in the portal, the
    # verify page and emails.
    sender_name = models.CharField(
        _("sender name"),
        max_length=100,
        blank=True,
        validators=[validate_sender_name],
        help_text=_(
            "The name emails come from. Leave empty to use the organization's name."
        ),
    )
    accent_colour = models.CharField(
        _("accent colour"),
        max_length=7,
        blank=True,
        validators=[validate_accent_colour],
        help_text=_(
            "Buttons, links and the active tab, as #rrggbb. It must contrast at "
            "least 4.5:1 with the white page (WCAG 2.2 AA). Leave empty for "
            "Liaison's blue (#0b5cad)."
        ),
    )
    # SHA-256 of the logo in OrganizationLogo, "" without one: versions the
    # logo's URL, so pages name it without reading its bytes. Written with
    # the logo by clinic.services, never by hand.
    logo_hash = models.CharField(
        _("logo fingerprint"), max_length=64, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        constraints = [
            models.CheckConstraint(
                condition=Q(default_language__in=Language.values),
                name="clinic_organization_language_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OrganizationLogo(models.Model):
    """An organization's logo, in the database so that every web host serves
    it (no media files to copy between hosts). Its own table: the
    organization row is joined everywhere and must stay small."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="logo"
    )
    image = models.BinaryField(_("image"))
    content_type = models.CharField(
        _("content type"),
        max_length=16,
        choices=[(t, t) for t in sorted(set(LOGO_FORMATS.values()))],
    )
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    sha256 = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("logo")
        verbose_name_plural = _("logos")

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.content_type}"


class SiteQuerySet(OrganizationScopedQuerySet):
    pass


class Site(models.Model):
    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="sites",
        verbose_name=_("organization"),
    )
    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    phone = PhoneNumberField(_("phone"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="clinic_site_unique_name_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StaffMemberQuerySet(OrganizationScopedQuerySet):
    pass


class StaffRole(models.TextChoices):
    ADMIN = "admin", _("Clinic administrator")
    COORDINATOR = "coordinator", _("Coordinator")
    CLINICIAN = "clinician", _("Clinician")
    SUPPORT = "support", _("Patient support")
    MARKETING = "marketing", _("Communication and marketing")


class StaffMember(models.Model):
    Role = StaffRole

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_member",
        verbose_name=_("user"),
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("organization"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    sites = models.ManyToManyField(
        Site, blank=True, related_name="staff", verbose_name=_("sites")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = StaffMemberQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=StaffRole.values),
                name="clinic_staffmember_role_known",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class TeamQuerySet(OrganizationScopedQuerySet):
    pass


class Team(models.Model):
    """Staff who share a conversation queue, e.g. a site's front desk or its
    support team (which receives feedback follow-ups)."""

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="teams",
        verbose_name=_("organization"),
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="teams",
        help_text=_("Empty for a team serving every site."),
        verbose_name=_("site"),
    )
    name = models.CharField(_("name"), max_length=120)
    members = models.ManyToManyField(
        StaffMember, blank=True, related_name="teams", verbose_name=_("members")
    )
    handles_feedback = models.BooleanField(
        _("handles feedback follow-ups"),
        default=False,
        help_text=_("Detractors' answers open a conversation assigned to this team."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (
            self.site_id
            and self.organization_id
            and self.site.organization_id != self.organization_id
        ):
            raise ValidationError(
                {"site": _("This site belongs to another organization.")}
            )


class PatientQuerySet(OrganizationScopedQuerySet):
    pass


class Patient(models.Model):
    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="patients",
        verbose_name=_("organization"),
    )
    identifier = models.CharField(
        _("identifier"),
        max_length=64,
        help_text=_("The clinic's own patient number, unique within the organization."),
    )
    given_name = models.CharField(_("given name"), max_length=150)
    family_name = models.CharField(_("family name"), max_length=150)
    birth_date = models.DateField(_("birth date"), validators=[validate_birth_date])
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Language.choices
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, validators=[validate_time_zone]
    )
    email = models.EmailField(_("email"), blank=True)
    phone = PhoneNumberField(
        _("mobile phone"),
        blank=True,
        help_text=_("International format, e.g. +33612345678."),
    )
    phone_is_mobile = models.BooleanField(
        _("phone takes SMS"),
        default=False,
        editable=False,
        help_text=_("Derived from the number when it is saved."),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient_record",
        verbose_name=_("portal account"),
    )
    erased_at = models.DateTimeField(
        _("erased at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set when the patient's identity was erased (GDPR art. 17)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "identifier"],
                name="clinic_patient_unique_identifier_per_org",
                violation_error_message=_(
                    "Another patient of this organization already has this identifier."
                ),
            ),
            models.CheckConstraint(
                condition=Q(preferred_language__in=Language.values),
                name="clinic_patient_language_known",
            ),
        ]
        indexes = [
            # Partner sync: "patients updated since" per organization.
            models.Index(
                fields=["organization", "updated_at"], name="clinic_patient_org_updated"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name} ({self.identifier})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class CaregiverQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"

    def active(self, now=None):
        """Links in force: not revoked, not past their end date."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=now)
        )


class Caregiver(models.Model):
    """A user with proxy access to a patient (a parent, a guardian, a relative)."""

    class Relationship(models.TextChoices):
        PARENT = "parent", _("Parent")
        LEGAL_GUARDIAN = "guardian", _("Legal guardian")
        PARTNER = "partner", _("Spouse or partner")
        CHILD = "child", _("Child")
        RELATIVE = "relative", _("Other relative")
        OTHER = "other", _("Other")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="caregiving",
        verbose_name=_("user"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="caregivers",
        verbose_name=_("patient"),
    )
    relationship = models.CharField(
        _("relationship"), max_length=16, choices=Relationship.choices
    )
    can_see_appointments = models.BooleanField(_("appointments"), default=True)
    can_see_messages = models.BooleanField(_("messages"), default=True)
    can_see_results = models.BooleanField(_("results"), default=False)
    can_manage_preferences = models.BooleanField(_("preferences"), default=False)
    valid_until = models.DateTimeField(
        _("valid until"), null=True, blank=True, help_text=_("Empty: no end date.")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CaregiverQuerySet.as_manager()

    class Meta:
        verbose_name = _("caregiver")
        verbose_name_plural = _("caregivers")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "patient"], name="clinic_caregiver_unique_user_patient"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.patient}"

    def clean(self) -> None:
        if self.patient_id and self.user_id and self.patient.user_id == self.user_id:
            raise ValidationError(
                {"user": _("A patient cannot be their own caregiver.")}
            )


class AccessAuditQuerySet(OrganizationScopedQuerySet):
    pass


class AccessAudit(models.Model):
    """Who read or acted on a patient's record: the patient can see every row."""

    class Action(models.TextChoices):
        VIEW_RECORD = "view_record", _("viewed the record")
        VIEW_MESSAGE = "view_message", _("read a message")
        EXPORT = "export", _("exported the data")
        ERASE = "erase", _("erased the identity")
        OBJECT = "object", _("recorded an objection")
        CONSENT = "consent", _("changed consent")

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="access_audit",
        verbose_name=_("patient"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("who"), max_length=200)
    action = models.CharField(_("what"), max_length=16, choices=Action.choices)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    # Where the reader was (core.client_address.client_ip); empty for
    # Liaison's own work and for entries older than the field.
    client_address = models.GenericIPAddressField(
        _("client address"), null=True, blank=True
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)

    objects = AccessAuditQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("access audit entry")
        verbose_name_plural = _("access audit")
        indexes = [
            # "Who accessed my record": a patient's entries, newest first.
            models.Index(
                fields=["patient", "-occurred_at"], name="clinic_audit_patient_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.get_action_display()}"


class InvitationQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"


class Invitation(models.Model):
    """A single-use, expiring invitation to the portal: for the patient, or
    for a caregiver with the proxy scopes staff chose."""

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("patient"),
    )
    # Only the hash of the token is kept: a database leak opens no account.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    caregiver_email = models.EmailField(
        _("caregiver's email"),
        blank=True,
        help_text=_("Empty: the invitation is for the patient."),
    )
    relationship = models.CharField(
        _("relationship"),
        max_length=16,
        choices=Caregiver.Relationship.choices,
        blank=True,
    )
    can_see_appointments = models.BooleanField(_("appointments"), default=True)
    can_see_messages = models.BooleanField(_("messages"), default=True)
    can_see_results = models.BooleanField(_("results"), default=False)
    can_manage_preferences = models.BooleanField(_("preferences"), default=False)
    access_until = models.DateTimeField(_("access until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("portal invitation")
        verbose_name_plural = _("portal invitations")

    def __str__(self) -> str:
        return _("invitation %(id)s") % {"id": self.public_id}

    @property
    def for_caregiver(self) -> bool:
        return bool(self.caregiver_email)


# Appointments live in their own module (one sub-domain per module).
from clinic.appointments.models import (  # noqa: E402, F401
    Appointment,
    AppointmentQuerySet,
    AppointmentStatus,
    VisitType,
    VisitTypeQuerySet,
)
