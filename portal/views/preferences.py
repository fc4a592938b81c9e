"""The preference centre: who may write to the patient, on which channel, when.

Contact-point verification (a new phone or email confirmed by code) is not
here; it belongs to the contact-details page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from clinic.models import Patient
from clinic.services import patient_update
from consent.errors import ConsentError
from consent.matrix import consent_matrix, consent_matrix_save, matrix_topics
from consent.models import (
    ConsentEvent,
    Topic,
)
from consent.selectors import channel_order_get
from consent.services import preferences_get
from consent.services import preferences_update as preferences_save
from consent.vocabulary import Channel, Purpose, Source
from core.client_address import client_ip
from portal.access import patient_required
from portal.forms.preferences import PreferencesForm
from portal.views.appointments import patient_locale, render_for

WORDING_VERSION = "portal-2026-11"
HISTORY_PAGE_SIZE = 20


def _client_facts(request: HttpRequest) -> dict:
    return {
        "source": Source.PORTAL,
        "actor": request.user,
        "ip_address": client_ip(request),
        "user_agent": request.headers.get("user-agent", ""),
        "wording_version": WORDING_VERSION,
    }


def _initial(patient: Patient, topics: list[Topic]) -> dict:
    preferences = preferences_get(patient=patient)
    initial = {
        "send_from": preferences.send_from,
        "send_until": preferences.send_until,
        "marketing_per_week": preferences.marketing_per_week,
        "preferred_language": patient.preferred_language,
    }
    for topic in topics:
        initial[f"order_{topic.slug}"] = channel_order_get(
            patient=patient, topic=topic
        )[0]
    return initial


def _channel_order(patient: Patient, topics: list[Topic], data: dict) -> dict:
    """The stored channel order, with the topics whose first choice changed."""
    order = dict(preferences_get(patient=patient).channel_order)
    for topic in topics:
        first = data.get(f"order_{topic.slug}")
        current = channel_order_get(patient=patient, topic=topic)
        if first and first != current[0]:
            order[topic.slug] = [first] + [c for c in current if c != first]
    return order


def _save_settings(patient: Patient, form: PreferencesForm, topics: list) -> bool:
    data = form.cleaned_data
    try:
        with transaction.atomic():
            preferences_save(
                patient=patient,
                send_from=data["send_from"],
                send_until=data["send_until"],
                marketing_per_week=data["marketing_per_week"],
                channel_order=_channel_order(patient, topics, data),
            )
            if data["preferred_language"] != patient.preferred_language:
                patient_update(
                    patient=patient, preferred_language=data["preferred_language"]
                )
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
        return False
    except ConsentError as error:
        form.add_error(None, str(error))
        return False
    return True


def _history_line(event: ConsentEvent, language: str) -> str:
    what = (
        event.topic.name(language) if event.topic_id else Purpose(event.purpose).label
    )
    values = {
        "date": formats.date_format(
            timezone.localtime(event.occurred_at), "DATE_FORMAT"
        ),
        "what": what,
        "source": Source(event.source).label,
    }
    if event.channel:
        label = str(Channel(event.channel).label)
        values["channel"] = label if label.isupper() else label.lower()
        if event.granted:
            text = _(
                "On %(date)s you agreed to receive %(what)s by %(channel)s (%(source)s)."
            )
        else:
            text = _(
                "On %(date)s you stopped receiving %(what)s by %(channel)s (%(source)s)."
            )
    elif event.granted:
        text = _(
            "On %(date)s you agreed to receive %(what)s on every channel (%(source)s)."
        )
    else:
        text = _(
            "On %(date)s you stopped receiving %(what)s on every channel (%(source)s)."
        )
    return text % values


def _history(request: HttpRequest, patient: Patient, language: str):
    events = (
        ConsentEvent.objects.for_patient(patient)
        .select_related("topic")
        .order_by("-occurred_at", "-id")
    )
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    page.lines = [_history_line(event, language) for event in page]
    return page


@patient_required("preferences")
def preferences(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    topics = matrix_topics(patient)
    matrix = consent_matrix(patient, topics)
    with patient_locale(request, patient):
        language = translation.get_language()
    data = request.POST if request.method == "POST" else None
    if data is not None and data.get("form") == "consent":
        changed = consent_matrix_save(
            patient=patient,
            matrix=matrix,
            wanted=set(request.POST),
            **_client_facts(request),
        )
        messages.success(
            request, _("Your choices are saved.") if changed else _("Nothing changed.")
        )
        return redirect("portal:preferences")
    settings_posted = data is not None and data.get("form") == "settings"
    form = PreferencesForm(
        data if settings_posted else None,
        initial=_initial(patient, topics),
        topics=topics,
        language=language,
    )
    if settings_posted and form.is_valid() and _save_settings(patient, form, topics):
        messages.success(request, _("Your settings are saved."))
        return redirect("portal:preferences")
    with patient_locale(request, patient):
        history = _history(request, patient, language)
    return render_for(
        request,
        patient,
        "portal/preferences/preferences.html",
        {
            "matrix": matrix,
            "channels": Channel.choices,
            "form": form,
            "history": history,
        },
    )
