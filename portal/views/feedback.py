"""Surveys waiting for the patient's answer, and what the clinic changed
after patients' feedback ("you said, we did")."""

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from feedback.models import ImprovementNote, SurveyInvitation
from feedback.tokens import invitation_url
from portal.access import patient_required
from portal.views.appointments import render_for


@patient_required()
def feedback_home(request: HttpRequest) -> HttpResponse:
    access = request.portal
    if access.is_proxy:
        # A survey asks for the patient's own experience.
        raise Http404
    patient = access.patient
    invitations = list(
        SurveyInvitation.objects.filter(
            patient=patient, answered_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("survey")
        .order_by("-created_at")[:20]
    )
    for invitation in invitations:
        invitation.url = invitation_url(invitation)
    notes = ImprovementNote.objects.for_organization(
        patient.organization_id
    ).published()[:20]
    # In the patient's language: survey titles and notes have one per language.
    return render_for(
        request,
        patient,
        "portal/feedback.html",
        {"invitations": invitations, "notes": notes},
    )
