"""Permissions for clinic staff, derived from their role."""

from typing import Any

from django.contrib.auth.backends import BaseBackend

from clinic.roles import ROLE_PERMISSIONS


class StaffRoleBackend(BaseBackend):
    """Grants a staff member the permissions of their ``StaffMember.role``.

    It authenticates nobody: ModelBackend checks passwords; this backend only
    answers permission questions.
    """

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_liaison_role_perms"):
            from clinic.models import StaffMember

            role = (
                StaffMember.objects.filter(user=user_obj)
                .values_list("role", flat=True)
                .first()
            )
            user_obj._liaison_role_perms = set(ROLE_PERMISSIONS.get(role, ()))
        return user_obj._liaison_role_perms

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(
            perm.startswith(f"{app_label}.")
            for perm in self.get_all_permissions(user_obj)
        )
