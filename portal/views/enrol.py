"""The page an invitation link opens: create the portal account."""

from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from portal.enrolment import EnrolmentError, enrol, invitation_get
from portal.forms.enrol import EnrolForm


@never_cache
def enrol_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_get(token=token)
    except EnrolmentError as error:
        return render(
            request, "portal/enrol/invalid.html", {"error": error}, status=400
        )
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = enrol(
                token=token,
                birth_date=form.cleaned_data["birth_date"],
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except EnrolmentError as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                target = "password1" if field == "__all__" else field
                for message in messages:
                    form.add_error(target if target in form.fields else None, message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("portal:home")
    context = {
        "form": form,
        "organization": invitation.patient.organization,
        "for_caregiver": invitation.for_caregiver,
    }
    return render(request, "portal/enrol/form.html", context)
