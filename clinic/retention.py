"""The access audit's retention (core.retention): who opened which record."""

from core.retention import retention_register

# Six years: HIPAA keeps the documentation of its safeguards, audit logs
# included, six years (45 CFR 164.316(b)(2)(i)); in France the CNIL's 2021
# recommendation on logging asks for six months to a year unless a legal
# obligation asks for more. The default meets the longer one; a French-only
# deployment may lower it (docs/deploy.md, "Retention").
ACCESS_AUDIT_DAYS = 6 * 365


def register() -> None:
    from clinic.models import AccessAudit

    retention_register(
        "access_audit",
        description="Who accessed which patient's record, when, from where.",
        default_days=ACCESS_AUDIT_DAYS,
        expired=lambda before: AccessAudit.objects.filter(occurred_at__lt=before),
    )
