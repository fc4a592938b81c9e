"""Portal enrolment in admin: invite patients, invite caregivers."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic.admin import PatientAdmin
from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import Invitation
from portal.enrolment import EnrolmentError, invitation_send


@admin.action(description=_("Invite to the patient portal"), permissions=["invite"])
def invite_to_portal(modeladmin, request: HttpRequest, queryset) -> None:
    sent, problems = 0, []
    for patient in queryset.select_related("organization"):
        try:
            invitation_send(patient=patient, created_by=request.user)
        except EnrolmentError as error:
            problems.append(f"{patient.identifier}: {error}")
        else:
            sent += 1
    if sent:
        modeladmin.message_user(
            request,
            ngettext("Invited %(count)d patient.", "Invited %(count)d patients.", sent)
            % {"count": sent},
        )
    for problem in problems:
        modeladmin.message_user(request, problem, messages.WARNING)


def _has_invite_permission(self, request: HttpRequest) -> bool:
    return request.user.has_perm("clinic.add_invitation")


# Portal is a surface over clinic: it adds its action to the patients' admin.
PatientAdmin.actions = [*PatientAdmin.actions, invite_to_portal]
PatientAdmin.has_invite_permission = _has_invite_permission


@admin.register(Invitation)
class InvitationAdmin(OrganizationScopedAdmin):
    """Invitations sent; adding one here invites a caregiver."""

    list_display = ["created_at", "patient", "caregiver_email", "expires_at", "used_at"]
    list_filter = [("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__identifier", "patient__family_name", "caregiver_email"]
    autocomplete_fields = ["patient"]
    fields = [
        "patient",
        "caregiver_email",
        "relationship",
        "can_see_appointments",
        "can_see_messages",
        "can_see_results",
        "can_manage_preferences",
        "access_until",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.fields if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: Invitation, form, change: bool
    ) -> None:
        if change:
            return
        if not obj.caregiver_email:
            self.message_user(
                request,
                _(
                    "Invite patients with the action on the patient list; here, give a caregiver's email."
                ),
                messages.ERROR,
            )
            return
        created = invitation_send(
            patient=obj.patient,
            created_by=request.user,
            caregiver_email=obj.caregiver_email,
            relationship=obj.relationship,
            can_see_appointments=obj.can_see_appointments,
            can_see_messages=obj.can_see_messages,
            can_see_results=obj.can_see_results,
            can_manage_preferences=obj.can_manage_preferences,
            access_until=obj.access_until,
        )
        obj.pk = created.pk

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)
