"""allauth adapter: accounts are created by enrolment invitations only."""

from allauth.account.adapter import DefaultAccountAdapter

from django.core.exceptions import PermissionDenied

from core.client_address import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False

    def get_client_ip(self, request) -> str:
        """The address allauth's rate limits count by: the project's one
        (core/client_address.py), refused as allauth does when unknown."""
        ip = client_ip(request)
        if ip is None:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
