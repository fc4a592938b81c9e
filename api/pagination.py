"""Cursor pagination for partner syncs: stable under concurrent writes (no
skipped or repeated rows as offsets shift), oldest change first, so a partner
can page through ``?updated_since=`` and keep the last ``updated_at`` seen."""

from rest_framework.pagination import CursorPagination


class UpdatedCursorPagination(CursorPagination):
    ordering = ("updated_at", "id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class CreatedCursorPagination(UpdatedCursorPagination):
    ordering = ("-created_at", "-id")
