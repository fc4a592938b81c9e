"""The page a survey invitation's link opens, without signing in."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from feedback.forms import AnswerForm
from feedback.services import response_submit
from feedback.tokens import InvitationTokenError, invitation_read


def _refused(request: HttpRequest, error: InvitationTokenError) -> HttpResponse:
    language = (
        error.invitation.patient.preferred_language
        if error.invitation
        else translation.get_language()
    )
    with translation.override(language):
        return render(
            request, "feedback/invalid.html", {"code": error.code}, status=400
        )


def _thanks(request: HttpRequest, invitation) -> HttpResponse:
    """The thank-you page leads back: to the portal when the patient is
    signed in (they came from it), else to the portal's sign-in page."""
    signed_in = (
        request.user.is_authenticated and invitation.patient.user_id == request.user.pk
    )
    return render(
        request,
        "feedback/thanks.html",
        {
            "survey": invitation.survey,
            "organization": invitation.organization,
            "signed_in": signed_in,
        },
    )


@require_http_methods(["GET", "POST"])
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the questions (link scanners prefetch links: it changes
    nothing); POST keeps the answers once. The page names the clinic and the
    survey, never an appointment or anything clinical."""
    try:
        invitation = invitation_read(token)
    except InvitationTokenError as error:
        return _refused(request, error)
    survey = invitation.survey
    with translation.override(invitation.patient.preferred_language):
        form = AnswerForm(
            request.POST if request.method == "POST" else None, survey=survey
        )
        if request.method == "POST" and form.is_valid():
            try:
                response_submit(invitation=invitation, answers=form.answers())
            except InvitationTokenError as error:
                return _refused(request, error)
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, messages)
            else:
                return _thanks(request, invitation)
        return render(
            request,
            "feedback/answer.html",
            {"survey": survey, "form": form, "organization": invitation.organization},
            status=400 if form.errors else 200,
        )
