"""Fields the partner endpoints share: objects referenced by their public id
within the key's organization, time-zone-aware date-times, and the
``?patient=`` filter."""

import uuid

from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers

from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_datetime

from clinic.models import Patient


class ReadFieldsBuiltOnce:
    """A serializer that builds the fields it reads with once per class.

    A ModelSerializer introspects its model and deep-copies its declared
    fields each time it is created: about a fifth of the CPU of reading one
    patient (docs/api.md, Throughput). Only for serializers whose output does
    not depend on the request (no context, no hyperlinks, no organization's
    querysets); writes still build their fields per request, as DRF does.
    """

    @property
    def _readable_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_read_fields_built_once")
        if built is None:
            built = [f for f in cls(context={}).fields.values() if not f.write_only]
            cls._read_fields_built_once = built
        return built


class OrganizationSlugField(serializers.SlugRelatedField):
    """An object of the key's organization, given by ``slug_field``.

    Another organization's object is refused exactly like one that does not
    exist: a 400 with a field error, never a hint that it exists elsewhere.
    """

    default_error_messages = {
        "does_not_exist": "No such object in this organization.",
        "invalid": "Invalid value.",
    }

    def get_queryset(self) -> QuerySet:
        organization = self.context["view"].organization
        return super().get_queryset().for_organization(organization)

    def to_internal_value(self, data) -> Model:
        # PostgreSQL refuses NUL in any text, even to compare: no slug has one.
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value="")
        return super().to_internal_value(data)


class OrganizationPublicIdField(OrganizationSlugField):
    """An object of the key's organization, given by its public id (a UUID)."""

    default_error_messages = {"invalid": "Give the object's id (a UUID)."}

    def __init__(self, queryset: QuerySet, **kwargs):
        super().__init__(slug_field="public_id", queryset=queryset, **kwargs)

    def to_internal_value(self, data) -> Model:
        try:
            uuid.UUID(str(data))
        except ValueError:
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its offset: a naive time is
    ambiguous for a patient in another time zone than the server."""

    default_error_messages = {
        "naive": "Give the time zone offset (e.g. 2026-11-03T09:30:00+01:00 or Z).",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed, impossible (12:99): DRF says invalid
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


def patient_param(description: str, required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(
        name="patient",
        type=uuid.UUID,
        location=OpenApiParameter.QUERY,
        required=required,
        description=description,
    )


def object_from_query(
    view,
    param: str,
    queryset: QuerySet,
    *,
    required: bool = False,
    label: str = "object",
) -> Model | None:
    """The object named by ``?<param>=<id>`` in the key's organization.

    A malformed id (an empty one included), or one that names nothing of the
    organization (another organization's included), is a 400 pointing at
    ``param``.
    """
    raw = view.request.query_params.get(param)
    if raw is None:
        if required:
            raise exceptions.ValidationError({param: ["This filter is required."]})
        return None
    try:
        public_id = uuid.UUID(raw)
    except ValueError:
        raise exceptions.ValidationError(
            {param: [f"Give the {label}'s id (a UUID)."]}
        ) from None
    found = (
        queryset.for_organization(view.organization).filter(public_id=public_id).first()
    )
    if found is None:
        raise exceptions.ValidationError(
            {param: [f"No such {label} in this organization."]}
        )
    return found


def patient_from_query(view, *, required: bool = False) -> Patient | None:
    """The ``?patient=<id>`` of the request, in the key's organization."""
    return object_from_query(
        view, "patient", Patient.objects.all(), required=required, label="patient"
    )


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only, as the schema says (``type:
    boolean``): DRF's own takes 0, 1, "yes", "on"…, so a partner's wrong
    type would be accepted as a decision."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictInputMixin:
    """JSON types as the schema states them, for a serializer's text fields:
    DRF's CharField turns a number into text (``"description": 0`` was
    accepted as "0"), so a partner's wrong type would pass unnoticed."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {
                name: [field.error_messages["invalid"]]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and not field.read_only
                and data.get(field.field_name) is not None
                and not isinstance(data.get(field.field_name), str)
            }
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)
