"""Waitlists and slot offers in admin: staff see who waits for what and what
became of each freed slot. Offers are written by the workflow only."""

from django.contrib import admin

from clinic.admin_scoping import OrganizationScopedAdmin
from outreach.waitlist.models import SlotOffer, SlotOfferRecipient, WaitlistEntry


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(OrganizationScopedAdmin):
    list_display = ["patient", "site", "practitioner", "kind", "earliest", "latest"]
    list_filter = ["status", "site"]
    search_fields = ["patient__identifier", "patient__family_name"]
    list_select_related = ["patient", "site", "practitioner"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "earliest"


class SlotOfferRecipientInline(admin.TabularInline):
    model = SlotOfferRecipient
    fields = ["entry", "status", "offered_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SlotOffer)
class SlotOfferAdmin(OrganizationScopedAdmin):
    # Its rows name the patient whose appointment was freed.
    audit_patient_path = "freed__patient"
    list_display = ["freed", "status", "taken_by", "created_at", "closed_at"]
    list_filter = ["status"]
    readonly_fields = ["freed", "status", "taken_by", "booked", "closed_at"]
    inlines = [SlotOfferRecipientInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
