"""Organization scoping: the one way patient data is filtered by tenant.

Every model that holds an organization's data uses a QuerySet derived from
``OrganizationScopedQuerySet`` and names the lookup path to its organization.
Admin, portal, API and tasks call ``for_organization`` or ``visible_to``; no view
filters by organization by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.contrib.auth import get_user_model
from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def staff_organization_id(user: AbstractBaseUser | AnonymousUser) -> int | None:
    """The organization a staff user works for, or None (cached on the user)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_liaison_organization_id"):
        user._liaison_organization_id = staff_member_value(user, "organization_id")
    return user._liaison_organization_id


def staff_member_value(user: AbstractBaseUser, field: str):
    """One field of the user's StaffMember, or None when they are not staff.

    Read from the user's side of the one-to-one (``staff_member``), since
    ``clinic.models`` imports this module: one query either way."""
    return (
        get_user_model()
        ._default_manager.filter(pk=user.pk, staff_member__isnull=False)
        .values_list(f"staff_member__{field}", flat=True)
        .first()
    )


class OrganizationScopedQuerySet(models.QuerySet):
    #: Lookup path from the model to its Organization.
    organization_path: str = "organization"

    def for_organization(self, organization: models.Model | int) -> Self:
        return self.filter(**{self.organization_path: organization})

    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """Rows a staff user may see: their organization's, or all for superusers."""
        if not getattr(user, "is_active", False):
            return self.none()
        if user.is_superuser:
            return self
        organization_id = staff_organization_id(user)
        if organization_id is None:
            return self.none()
        return self.for_organization(organization_id)
