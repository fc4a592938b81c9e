"""Appointments imported from a CSV file (admin, issue 6): plan, then import.

``appointments_import_plan`` reads the file and says, row by row, what would be
created or updated, or why a row is wrong; it writes nothing. ``appointments_import``
plans again inside one transaction and saves every row through
``clinic.services.appointment_save`` (so reminders follow), or nothing at all.

The file (docs/outreach.md, "Import"):

- UTF-8, with or without a byte-order mark; columns separated by ``,`` or ``;``
  (French Excel), detected from the header line.
- Headers ``patient_identifier``, ``site``, ``starts_at``, ``ends_at`` (required)
  and ``kind``, ``practitioner``, ``external_id`` (optional), in any order.
- Dates and times in ISO 8601: with an offset (``2026-03-12T10:30+01:00``, ``Z``)
  they are that instant; without one (``2026-03-12 10:30``) they are the
  organization's local time, and a time that does not exist or happens twice
  on a daylight-saving day is refused (give the offset).
- ``site`` is the site's name; ``practitioner`` the staff member's user name.
- A row whose ``external_id`` names an existing appointment of the same patient
  updates it (moves it); one naming another patient's appointment is an error.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import (
    Appointment,
    AppointmentStatus,
    Organization,
    Patient,
    Site,
    StaffMember,
)
from clinic.services import appointment_save

REQUIRED_COLUMNS = ("patient_identifier", "site", "starts_at", "ends_at")
OPTIONAL_COLUMNS = ("kind", "practitioner", "external_id")
MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
# Only appointments still to come in the booking's life may be moved by an import.
UPDATABLE = {AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED}
# Model field → CSV column, for errors the model's own validation raises.
COLUMN_OF_FIELD = {
    "patient": "patient_identifier",
    "site": "site",
    "practitioner": "practitioner",
    "starts_at": "starts_at",
    "ends_at": "ends_at",
    "kind": "kind",
    "external_id": "external_id",
}


class Action:
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class RowError:
    line: int  # line of the file (the header is line 1); 0: the whole file
    column: str
    message: str


@dataclass
class PlannedRow:
    line: int
    action: str
    appointment: Appointment
    changes: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def counts(self) -> dict[str, int]:
        """How many rows each action has: ``{"create": …, "update": …,
        "unchanged": …}``."""
        return {
            action: self.count(action)
            for action in (Action.CREATE, Action.UPDATE, Action.UNCHANGED)
        }

    @property
    def fingerprint(self) -> str:
        """What the import would do; a confirmation of another plan is refused."""
        text = "|".join(
            f"{r.line}:{r.action}:{r.appointment.pk or ''}" for r in self.rows
        )
        return hashlib.sha256(text.encode()).hexdigest()


class ImportRefusedError(Exception):
    """Nothing was imported; ``plan.errors`` says why, row by row."""

    def __init__(self, plan: ImportPlan) -> None:
        super().__init__(f"{len(plan.errors)} error(s)")
        self.plan = plan


class ImportChangedError(Exception):
    """The data changed between the preview and the confirmation: nothing was
    imported, and ``plan`` is the new preview."""

    def __init__(self, plan: ImportPlan) -> None:
        super().__init__("The import plan changed since the preview.")
        self.plan = plan


def csv_decode(raw: bytes) -> str:
    """The file's text; raises ImportRefusedError when it is too big or not UTF-8."""
    if len(raw) > MAX_BYTES:
        raise too_big()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefusedError(
            ImportPlan(
                errors=[
                    _file_error(
                        _(
                            "The file is not UTF-8 text (byte %(position)d). In "
                            "Excel, save it as “CSV UTF-8”."
                        )
                        % {"position": error.start + 1}
                    )
                ]
            )
        ) from None


def too_big() -> ImportRefusedError:
    message = _(
        "The file is too big: at most %(size)d kB and %(rows)d appointments per import."
    ) % {"size": MAX_BYTES // 1000, "rows": MAX_ROWS}
    return ImportRefusedError(ImportPlan(errors=[_file_error(message)]))


def _file_error(message: str, line: int = 0) -> RowError:
    return RowError(line=line, column="", message=message)


def expected_columns_text() -> str:
    return _("Expected: %(required)s; optional: %(optional)s.") % {
        "required": ", ".join(REQUIRED_COLUMNS),
        "optional": ", ".join(OPTIONAL_COLUMNS),
    }


def _read_rows(text: str, plan: ImportPlan) -> tuple[list[str], list[tuple]]:
    """(columns, [(line, {column: value})]); file-level errors go to ``plan``."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            plan.errors.append(_file_error(_("The file is empty."), line=1))
            return [], []
        columns = [cell.strip().lower() for cell in header]
        header_error = _header_error(columns)
        if header_error is not None:
            plan.errors.append(header_error)
            return columns, []
        end_of_previous = reader.line_num
        for record in reader:
            line, end_of_previous = end_of_previous + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                plan.errors.extend(too_big().plan.errors)
                return columns, []
            if len(record) != len(columns):
                plan.errors.append(
                    RowError(
                        line,
                        "",
                        _(
                            "This row has %(found)d columns; the header has %(expected)d."
                        )
                        % {"found": len(record), "expected": len(columns)},
                    )
                )
                continue
            rows.append(
                (line, {c: v.strip() for c, v in zip(columns, record, strict=True)})
            )
    except csv.Error as error:
        plan.errors.append(
            _file_error(
                _("The file is not valid CSV: %s") % error, line=reader.line_num
            )
        )
        return columns, []
    if not rows and not plan.errors:
        plan.errors.append(_file_error(_("The file has no appointment rows.")))
    return columns, rows


def _header_error(columns: list[str]) -> RowError | None:
    """The header line's error: required columns missing, unknown or repeated
    ones; None when the header is right."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    unknown = [c for c in columns if c not in known]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if not (missing or unknown or repeated):
        return None
    problems = []
    if missing:
        problems.append(_("missing: %s") % ", ".join(missing))
    if unknown:
        problems.append(_("unknown: %s") % ", ".join(unknown))
    if repeated:
        problems.append(_("repeated: %s") % ", ".join(repeated))
    return _file_error(
        _("Wrong headers (%(problems)s). %(expected)s")
        % {"problems": "; ".join(problems), "expected": expected_columns_text()},
        line=1,
    )


def _parse_datetime(value: str, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """An aware datetime; raises ValueError with the message to show."""
    example = _(
        "Use ISO 8601, e.g. 2026-03-12 10:30 (the organization's time, "
        "%(zone)s) or 2026-03-12T10:30+01:00."
    ) % {"zone": tz.key}
    if not value:
        raise ValueError(_("Required.") + " " + example)
    try:
        if "T" not in value.upper() and " " not in value:
            raise ValueError  # a date alone
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            _("“%(value)s” is not a date and time.") % {"value": value} + " " + example
        ) from None
    if parsed.tzinfo is not None:
        return parsed
    local = parsed.replace(tzinfo=tz)
    if local.astimezone(datetime.UTC).astimezone(tz).replace(tzinfo=None) != parsed:
        raise ValueError(
            _(
                "%(value)s does not exist in %(zone)s (the clocks jump forward "
                "that day). Check the time or give its offset."
            )
            % {"value": value, "zone": tz.key}
        )
    if parsed.replace(fold=1, tzinfo=tz).utcoffset() != local.utcoffset():
        raise ValueError(
            _(
                "%(value)s happens twice in %(zone)s (the clocks go back that "
                "day). Give its offset, e.g. +02:00 or +01:00."
            )
            % {"value": value, "zone": tz.key}
        )
    return local


def appointments_import_plan(
    *, organization: Organization, text: str, may_update: bool = True
) -> ImportPlan:
    """What importing ``text`` into ``organization`` would do, row by row, or
    every error found (line, column, message). Reads only.

    Patients, sites, practitioners and existing appointments are looked up in
    ``organization`` only: another organization's identifier is "unknown".

    The steps: read the rows (``_read_rows``), look up what they name
    (``_Lookups``), then plan each row (``_row_plan``); one wrong row
    anywhere and the plan has no rows, only errors.
    """
    plan = ImportPlan()
    columns, rows = _read_rows(text, plan)
    if not rows:
        return plan
    lookups = _Lookups.load(organization, columns, rows)
    for line, row in rows:
        errors: list[RowError] = []
        planned = _row_plan(
            line=line,
            row=row,
            columns=columns,
            lookups=lookups,
            may_update=may_update,
            errors=errors,
        )
        if errors:
            plan.errors.extend(errors)
        else:
            plan.rows.append(planned)
    if plan.errors:
        plan.rows = []
    return plan


@dataclass
class _Lookups:
    """What the rows name, in ``organization`` only, fetched once per file;
    and the external ids seen so far (an id twice in a file is an error)."""

    organization: Organization
    tz: zoneinfo.ZoneInfo
    patients: dict[str, Patient]
    sites_by_name: dict[str, Site]
    sites_by_folded: dict[str, list[Site]]
    practitioners: dict[str, StaffMember]
    existing: dict[str, Appointment]
    seen_external_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(
        cls, organization: Organization, columns: list[str], rows: list[tuple]
    ) -> _Lookups:
        values = {c: {row[c] for _line, row in rows if row.get(c)} for c in columns}
        patients = {
            p.identifier: p
            for p in Patient.objects.for_organization(organization).filter(
                identifier__in=values["patient_identifier"], erased_at__isnull=True
            )
        }
        sites = list(Site.objects.for_organization(organization))
        sites_by_folded: dict[str, list[Site]] = {}
        for site in sites:
            sites_by_folded.setdefault(site.name.casefold(), []).append(site)
        practitioners = {
            m.user.get_username(): m
            for m in StaffMember.objects.for_organization(organization)
            .filter(user__username__in=values.get("practitioner", set()))
            .select_related("user")
        }
        existing = {
            a.external_id: a
            for a in Appointment.objects.for_organization(organization)
            .filter(external_id__in=values.get("external_id", set()))
            .select_related("patient", "site", "practitioner__user")
        }
        return cls(
            organization=organization,
            tz=zoneinfo.ZoneInfo(organization.time_zone),
            patients=patients,
            sites_by_name={s.name: s for s in sites},
            sites_by_folded=sites_by_folded,
            practitioners=practitioners,
            existing=existing,
        )


def _row_plan(
    *,
    line: int,
    row: dict[str, str],
    columns: list[str],
    lookups: _Lookups,
    may_update: bool,
    errors: list[RowError],
) -> PlannedRow | None:
    """The row's plan, or None with its errors appended to ``errors`` (each
    column checked in turn, so one row may have several)."""

    def error(column: str, message: str) -> None:
        errors.append(RowError(line, column, message))

    patient = _row_patient(row, lookups, error)
    site = _row_site(row, lookups, error)
    times = _row_times(row, lookups.tz, error)
    practitioner = _row_practitioner(row, lookups, error)
    external_id = row.get("external_id", "")
    appointment = _row_existing(
        external_id,
        line=line,
        patient=patient,
        lookups=lookups,
        may_update=may_update,
        error=error,
    )
    if errors:
        return None
    new = {"site": site, "starts_at": times["starts_at"], "ends_at": times["ends_at"]}
    if "kind" in columns:
        new["kind"] = row["kind"]
    if "practitioner" in columns:
        new["practitioner"] = practitioner
    planned = _row_planned(
        line,
        new,
        appointment=appointment,
        organization=lookups.organization,
        patient=patient,
        external_id=external_id,
    )
    try:
        # Fields and cross-organization checks; uniqueness is checked above
        # set-wise, and again by appointment_save at import time.
        planned.appointment.full_clean(
            validate_unique=False, validate_constraints=False
        )
    except ValidationError as problem:
        for name, messages in problem.message_dict.items():
            for message in messages:
                error(COLUMN_OF_FIELD.get(name, ""), message)
        return None
    return planned


def _row_patient(row: dict[str, str], lookups: _Lookups, error) -> Patient | None:
    patient = lookups.patients.get(row["patient_identifier"])
    if not row["patient_identifier"]:
        error("patient_identifier", _("Required."))
    elif patient is None:
        error(
            "patient_identifier",
            _("No patient with identifier “%(value)s” in your organization.")
            % {"value": row["patient_identifier"]},
        )
    return patient


def _row_site(row: dict[str, str], lookups: _Lookups, error) -> Site | None:
    """The site by its exact name, else by its name in any case when only one
    site has it."""
    site = lookups.sites_by_name.get(row["site"])
    folded = lookups.sites_by_folded.get(row["site"].casefold(), [])
    if site is None and len(folded) == 1:
        [site] = folded
    if not row["site"]:
        error("site", _("Required."))
    elif site is None:
        error(
            "site",
            _("No site named “%(value)s” in your organization (sites: %(names)s).")
            % {
                "value": row["site"],
                "names": ", ".join(sorted(lookups.sites_by_name)),
            },
        )
    return site


def _row_times(
    row: dict[str, str], tz: zoneinfo.ZoneInfo, error
) -> dict[str, datetime.datetime]:
    times = {}
    for column in ("starts_at", "ends_at"):
        try:
            times[column] = _parse_datetime(row[column], tz)
        except ValueError as problem:
            error(column, str(problem))
    if len(times) == 2 and times["ends_at"] <= times["starts_at"]:
        error("ends_at", _("The appointment must end after it starts."))
    return times


def _row_practitioner(
    row: dict[str, str], lookups: _Lookups, error
) -> StaffMember | None:
    if not row.get("practitioner"):
        return None
    practitioner = lookups.practitioners.get(row["practitioner"])
    if practitioner is None:
        error(
            "practitioner",
            _("No staff member with user name “%(value)s” in your organization.")
            % {"value": row["practitioner"]},
        )
    return practitioner


def _row_existing(
    external_id: str,
    *,
    line: int,
    patient: Patient | None,
    lookups: _Lookups,
    may_update: bool,
    error,
) -> Appointment | None:
    """The appointment ``external_id`` names, when the row may update it;
    an id already on an earlier line of the file is an error."""
    if not external_id:
        return None
    seen = lookups.seen_external_ids
    if external_id in seen:
        error(
            "external_id",
            _("External id “%(value)s” is already on line %(line)d of this file.")
            % {"value": external_id, "line": seen[external_id]},
        )
    else:
        seen[external_id] = line
    appointment = lookups.existing.get(external_id)
    if appointment is None:
        return None
    if patient is not None and appointment.patient_id != patient.pk:
        error(
            "external_id",
            _(
                "External id “%(value)s” is already used by another "
                "patient's appointment."
            )
            % {"value": external_id},
        )
    elif appointment.status not in UPDATABLE:
        error(
            "external_id",
            _("The appointment “%(value)s” is %(status)s: an import cannot change it.")
            % {
                "value": external_id,
                "status": appointment.get_status_display().lower(),
            },
        )
    elif not may_update:
        error(
            "external_id",
            _("The appointment “%(value)s” exists and you may not change appointments.")
            % {"value": external_id},
        )
    return appointment


def _row_planned(
    line: int,
    new: dict,
    *,
    appointment: Appointment | None,
    organization: Organization,
    patient: Patient | None,
    external_id: str,
) -> PlannedRow:
    """A new appointment, or the existing one with ``new`` applied (unsaved)
    and the names of the fields that change."""
    if appointment is None:
        appointment = Appointment(
            organization=organization,
            patient=patient,
            external_id=external_id,
            **new,
        )
        return PlannedRow(line, Action.CREATE, appointment)
    changes = [
        name for name, value in new.items() if getattr(appointment, name) != value
    ]
    for name in changes:
        setattr(appointment, name, new[name])
    return PlannedRow(
        line,
        Action.UPDATE if changes else Action.UNCHANGED,
        appointment,
        changes=[str(Appointment._meta.get_field(n).verbose_name) for n in changes],
    )


def appointments_import(
    *,
    organization: Organization,
    text: str,
    may_update: bool = True,
    expected_fingerprint: str = "",
) -> ImportPlan:
    """Import every row of ``text`` or none, in one transaction, each through
    ``appointment_save``. Returns the plan carried out.

    Raises ImportRefusedError (nothing imported) when any row is invalid, including
    when the database changed since the preview so that a save now fails, and
    ImportChangedError when ``expected_fingerprint`` (the preview's) no longer
    matches what the import would do.
    """
    with transaction.atomic():
        plan = appointments_import_plan(
            organization=organization, text=text, may_update=may_update
        )
        if not plan.ok:
            raise ImportRefusedError(plan)
        if expected_fingerprint and plan.fingerprint != expected_fingerprint:
            raise ImportChangedError(plan)
        errors = _plan_apply(plan)
        if errors:
            # Raised inside the atomic block: every row saved so far is undone.
            raise ImportRefusedError(ImportPlan(errors=errors))
    return plan


def _plan_apply(plan: ImportPlan) -> list[RowError]:
    """Save each row that changes through ``appointment_save``; the errors of
    the rows a save refused (the caller undoes the rest)."""
    errors = []
    for row in plan.rows:
        if row.action == Action.UNCHANGED:
            continue
        try:
            appointment_save(appointment=row.appointment)
        except ValidationError as problem:
            for name, messages in problem.message_dict.items():
                errors.extend(
                    RowError(row.line, COLUMN_OF_FIELD.get(name, ""), message)
                    for message in messages
                )
    return errors


def local_display(value: datetime.datetime, organization: Organization) -> str:
    """A time as staff read it in the preview: the organization's local time."""
    local = timezone.localtime(value, zoneinfo.ZoneInfo(organization.time_zone))
    return local.strftime("%Y-%m-%d %H:%M %Z")
