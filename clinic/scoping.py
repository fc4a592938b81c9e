"""Organization scoping: the one way patient data is filtered by tenant.

Every model that holds an organization's data uses a QuerySet derived from
``OrganizationScopedQuerySet`` and names the lookup path to its organization.
Admin, portal, API and tasks call ``for_organization`` or ``visible_to``; no view
filters by organization by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.db import connection, models
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def staff_organization_id(user: AbstractBaseUser | AnonymousUser) -> int | None:
    """The organization a staff user works for, or None (cached on the user)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_liaison_organization_id"):
        from clinic.models import StaffMember

        user._liaison_organization_id = (
            StaffMember.objects.filter(user=user)
            .values_list("organization_id", flat=True)
            .first()
        )
    return user._liaison_organization_id


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


def filter_ids(queryset: QuerySet, ids: list[int], column: str = "") -> QuerySet:
    """``queryset.filter(<column>__in=ids)`` (the primary key by default); on
    PostgreSQL with one array parameter (``= ANY(%s)``): Django compiles an
    IN list of 10,000 ids into 10,000 parameters, a quarter of a second per
    query here."""
    meta = queryset.model._meta
    column = column or meta.pk.column
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{column}__in": ids})
    if not ids:
        return queryset.none()
    sql = f'"{meta.db_table}"."{column}" = ANY(%s::bigint[])'
    # The array as its literal: psycopg's list dumper tests every item
    # against a regular expression (a tenth of a second per 100,000 ids).
    literal = "{" + ",".join(str(int(pk)) for pk in ids) + "}"
    # The range lets PostgreSQL walk an index on the column rather than test
    # every row of a large table against the array.
    return queryset.filter(
        RawSQL(sql, (literal,), BooleanField()),  # noqa: S611 - our own column
        **{f"{column}__gte": min(ids), f"{column}__lte": max(ids)},
    )
