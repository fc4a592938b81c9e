"""Staff inviting patients to a survey by their identifiers: every identifier
checked first (all or nothing), then one invitation each."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clinic.models import Patient
from feedback.models import Survey
from feedback.services import survey_invite

MAX_PATIENTS = 500


@dataclass
class InviteReport:
    invited: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # identifier → why


def identifiers_parse(raw: str) -> list[str]:
    return list(
        dict.fromkeys(
            line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()
        )
    )


def survey_invite_identifiers(
    *, survey: Survey, identifiers: list[str]
) -> InviteReport:
    """Invite the survey's organization's patients named by ``identifiers``.

    Raises ValidationError naming unknown identifiers (nobody is invited then)
    or too many at once. A patient who may not be asked now (open complaint,
    erased) is skipped with the reason; consent may still suppress an invitation,
    which the delivery log explains.
    """
    if not identifiers:
        raise ValidationError(_("Give at least one patient identifier."))
    if len(identifiers) > MAX_PATIENTS:
        raise ValidationError(
            _(
                "At most %(count)s patients at once; for more, send the survey "
                "after a campaign (trigger: after a campaign reached the patient)."
            )
            % {"count": MAX_PATIENTS}
        )
    patients = {
        p.identifier: p
        for p in Patient.objects.for_organization(survey.organization_id).filter(
            identifier__in=identifiers
        )
    }
    unknown = [i for i in identifiers if i not in patients]
    if unknown:
        raise ValidationError(
            _("No patient of this organization has these identifiers: %(list)s")
            % {"list": ", ".join(unknown[:20]) + ("…" if len(unknown) > 20 else "")}
        )
    report = InviteReport()
    for identifier in identifiers:
        try:
            survey_invite(survey=survey, patient=patients[identifier])
            report.invited += 1
        except ValidationError as error:
            report.skipped[identifier] = error.messages[0]
    return report
