"""The variables a template may use, and how sensitive each one is.

Templates name variables as ``{{ name }}``. Rendering takes plain values only
(strings and numbers, never model objects), so a template can show nothing
but what is declared here.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    clinical: bool = False  # health data: never in a public SMS, email or call
    sample: str = ""
    # A credential (one-time code, single-use link): given to ``message_send``
    # in ``secrets``, never in ``context``; staff see MASK in its place
    # (messaging.redaction).
    secret: bool = False


VARIABLES = {
    v.name: v
    for v in [
        Variable("patient_first_name", _("The patient's first name"), sample="Camille"),
        Variable("patient_last_name", _("The patient's family name"), sample="Martin"),
        Variable(
            "organization_name", _("The clinic's name"), sample="Clinique des Lilas"
        ),
        Variable(
            "site_name", _("The site of the appointment"), sample="Lilas Belleville"
        ),
        Variable("appointment_date", _("The appointment's date"), sample="12/03/2026"),
        Variable("appointment_time", _("The appointment's time"), sample="10:30"),
        Variable("practitioner_name", _("The practitioner's name"), sample="Dr Durand"),
        Variable(
            "portal_link", _("Link to the patient portal"), sample="https://…/portal/"
        ),
        Variable("confirm_link", _("One-tap link to confirm"), sample="https://…/c/…"),
        Variable("cancel_link", _("One-tap link to cancel"), sample="https://…/x/…"),
        Variable("survey_link", _("Link to a survey"), sample="https://…/s/…"),
        Variable("code", _("A one-time security code"), sample="493817", secret=True),
        Variable(
            "enrol_link",
            _("Single-use link to create a portal account"),
            sample="https://…/portal/enrol/…/",
            secret=True,
        ),
        Variable(
            "appointment_kind",
            _("The kind of appointment (clinical)"),
            clinical=True,
            sample="Consultation",
        ),
        Variable(
            "result_name",
            _("The name of a result (clinical)"),
            clinical=True,
            sample="Bilan",
        ),
        Variable("diagnosis", _("A diagnosis (clinical)"), clinical=True, sample="—"),
        Variable(
            "prescription", _("A prescription (clinical)"), clinical=True, sample="—"
        ),
    ]
}


def sample_context() -> dict[str, str]:
    return {name: str(v.sample) for name, v in VARIABLES.items()}


SECRET_VARIABLES = frozenset(name for name, v in VARIABLES.items() if v.secret)
