"""Cursor pagination for partner syncs: stable under concurrent writes (no
skipped or repeated rows as offsets shift), oldest change first, so a partner
can page through ``?updated_since=`` and keep the last ``updated_at`` seen."""

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class UpdatedCursorPagination(CursorPagination):
    ordering = ("updated_at", "id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        """``?limit=`` as given, or a 400 naming it: DRF's own would fall back
        to the default page size (``abc``, ``0``, ``-1``) or cut it to the
        maximum, silently, and a partner would page on with the wrong size."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not (
            1 <= int(raw) <= self.max_page_size
        ):
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Give a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
        return parameters


class CreatedCursorPagination(UpdatedCursorPagination):
    ordering = ("-created_at", "-id")
