"""Visit-type names: an appointment's kind as patients and partners read it.

``Appointment.kind`` is the booking system's code; ``VisitType`` names it per
organization in French and English. Pages and API responses list many
appointments, so names come from one query per organization set
(``VisitTypeNames.for_appointments``), not one per appointment.
"""

from collections.abc import Iterable

from clinic.appointments.models import Appointment, VisitType


class VisitTypeNames:
    """The catalogue of some organizations, looked up by (organization, kind)."""

    def __init__(self, visit_types: Iterable[VisitType]):
        self._by_code = {
            (visit_type.organization_id, visit_type.code.casefold()): visit_type
            for visit_type in visit_types
        }

    @classmethod
    def for_organizations(cls, organization_ids: Iterable[int]) -> "VisitTypeNames":
        ids = set(organization_ids)
        if not ids:
            return cls(())
        return cls(VisitType.objects.filter(organization_id__in=ids))

    @classmethod
    def for_appointments(cls, appointments: Iterable[Appointment]) -> "VisitTypeNames":
        return cls.for_organizations(
            appointment.organization_id
            for appointment in appointments
            if appointment.kind
        )

    def visit_type(self, organization_id: int, kind: str) -> VisitType | None:
        return self._by_code.get((organization_id, kind.casefold())) if kind else None

    def name(self, organization_id: int, kind: str, language: str | None = None) -> str:
        """The kind's name in ``language`` (the active one by default); the
        kind itself when the catalogue lacks it; empty for no kind."""
        visit_type = self.visit_type(organization_id, kind)
        return visit_type.name(language) if visit_type else kind

    def names(self, organization_id: int, kind: str) -> dict[str, str] | None:
        """Every language's name, for machine readers; None for no kind."""
        if not kind:
            return None
        return {
            language: self.name(organization_id, kind, language)
            for language in ("fr", "en")
        }


def label_visit_types(appointments: list[Appointment]) -> list[Appointment]:
    """Give each appointment a ``visit_type_name`` that renders in the language
    active when it is rendered: its VisitType (``str()`` names it), or the kind
    as sent when the catalogue lacks it."""
    names = VisitTypeNames.for_appointments(appointments)
    for appointment in appointments:
        appointment.visit_type_name = (
            names.visit_type(appointment.organization_id, appointment.kind)
            or appointment.kind
        )
    return appointments
