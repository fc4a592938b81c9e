"""The public page a slot offer's link opens: GET shows the slot (link
scanners prefetch links), POST takes it. No sign-in, no session."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation

from outreach.waitlist.services import SlotGoneError, offer_token_read, slot_offer_take


def slot_offer(request: HttpRequest, token: str) -> HttpResponse:
    try:
        recipient = offer_token_read(token)
    except SlotGoneError:
        return render(request, "outreach/slot_offer.html", {"gone": True}, status=404)
    patient = recipient.entry.patient
    context = {"slot": recipient.offer.freed, "done": False, "gone": False}
    if request.method == "POST":
        try:
            slot_offer_take(recipient=recipient)
            context["done"] = True
        except SlotGoneError:
            context["gone"] = True
    elif recipient.offer.status != recipient.offer.Status.OPEN:
        context["gone"] = recipient.status != recipient.Status.WON
        context["done"] = recipient.status == recipient.Status.WON
    with (
        translation.override(patient.preferred_language),
        timezone.override(patient.time_zone),
    ):
        return render(request, "outreach/slot_offer.html", context)
