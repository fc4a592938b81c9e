"""The secure inbox in the portal: list, message, reply, mark read, object,
hide from proxies.

Reading the inbox needs the "messages" scope; a caregiver's objection changes
the patient's consent, so it also needs the "preferences" scope. Lines the
patient hid from proxies are 404 for caregivers, like any other message.
"""

from __future__ import annotations

import datetime
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from clinic.models import AccessAudit, Patient
from clinic.services import access_audit_record
from consent.errors import ConsentError
from consent.policy import Why
from consent.selectors import why_describe
from consent.services import consent_withdraw
from consent.vocabulary import LAWFUL_BASIS, Channel, Purpose
from messaging.inbox import (
    inbox_item_list,
    inbox_message_get,
    inbox_thread_list,
    inbox_unread_count,
)
from messaging.models import Message
from messaging.services import message_mark_read, message_reply
from messaging.services.replies import REPLY_MAX_LENGTH, ReplyError
from portal.access import PortalAccess, patient_required
from portal.privacy import PrivacyError, inbox_line_hide

# Purposes a patient cannot refuse; the page explains why instead.
NOT_OBJECTABLE = {Purpose.CARE, Purpose.SECURITY}


def _language(request: HttpRequest, patient: Patient) -> str:
    return request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or (
        patient.preferred_language
    )


def _render(
    request: HttpRequest, patient: Patient, template: str, context: dict
) -> HttpResponse:
    """Render in the patient's time zone, and language unless the visitor
    chose one with the language switcher."""
    with (
        translation.override(_language(request, patient)),
        timezone.override(patient.time_zone),
    ):
        return render(request, template, {**context, "patient": patient})


def _cursor(raw: str) -> datetime.datetime | None:
    """The ``before`` cursor of the list, None when absent or malformed."""
    try:
        before = parse_datetime(raw)
    except ValueError:
        return None
    return before if before is not None and timezone.is_aware(before) else None


def _why(message: Message) -> Why:
    if message.why.get("purpose"):
        return Why(**message.why)
    purpose = message.topic.purpose
    return Why(purpose=purpose, lawful_basis=LAWFUL_BASIS[purpose])


def _may_object(access: PortalAccess, message: Message, purpose: str) -> bool:
    return (
        message.direction == Message.Direction.OUTBOUND
        and purpose not in NOT_OBJECTABLE
        and access.allows("preferences")
    )


def _message_get(access: PortalAccess, public_id: UUID) -> Message:
    """The message ``public_id`` if this request may see it; Http404 otherwise."""
    return inbox_message_get(
        patient=access.patient,
        public_id=public_id,
        include_hidden=access.sees_hidden_items,
    )


def _actor_label(request: HttpRequest) -> str:
    access = request.portal
    user = request.user
    name = user.get_full_name() or user.get_username()
    return _("%(name)s (caregiver)") % {"name": name} if access.is_proxy else name


@never_cache
@require_GET
@patient_required("messages")
def inbox(request: HttpRequest) -> HttpResponse:
    """The inbox, newest first; ``?fragment=1`` returns the list region only
    (the live page re-reads it), ``?before=`` the next page."""
    access = request.portal
    patient = access.patient
    before = _cursor(request.GET.get("before", ""))
    include_hidden = access.sees_hidden_items
    page = inbox_item_list(
        patient=patient, before=before, include_hidden=include_hidden
    )
    context = {
        "page": page,
        "unread": inbox_unread_count(patient=patient, include_hidden=include_hidden),
        "before": before,
    }
    template = (
        "portal/inbox/_list.html"
        if request.GET.get("fragment")
        else "portal/inbox/list.html"
    )
    return _render(request, patient, template, context)


@never_cache
@require_GET
@patient_required("messages")
def inbox_message(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """One message with its conversation. The patient opening it marks it
    read; a caregiver reading it is recorded in the patient's access audit."""
    access = request.portal
    patient = access.patient
    message = _message_get(access, public_id)
    if access.is_proxy:
        access_audit_record(
            patient=patient,
            action=AccessAudit.Action.VIEW_MESSAGE,
            actor=request.user,
            actor_label=_actor_label(request),
            detail=f"portal message {message.public_id}",
        )
    elif message.direction == Message.Direction.OUTBOUND and message.read_at is None:
        message_mark_read(message=message, channel=Channel.INAPP)
    why = _why(message)
    return _render(
        request,
        patient,
        "portal/inbox/message.html",
        {
            "message": message,
            "thread": inbox_thread_list(
                patient=patient,
                message=message,
                include_hidden=access.sees_hidden_items,
            ),
            "why_text": why_describe(why=why, language=_language(request, patient)),
            "purpose": why.purpose,
            "purpose_label": Purpose(why.purpose).label,
            "may_object": _may_object(access, message, why.purpose),
            "not_objectable": why.purpose in NOT_OBJECTABLE,
            "reply_max_length": REPLY_MAX_LENGTH,
            "line_hidden": message.line_hidden and not access.is_proxy,
            "may_hide": access.may_hide_items and not message.line_hidden,
            "may_unhide": access.may_unhide_items and message.line_hidden,
        },
    )


@require_POST
@patient_required("messages")
def inbox_reply(request: HttpRequest, public_id: UUID) -> HttpResponse:
    patient = request.portal.patient
    message = _message_get(request.portal, public_id)
    try:
        message_reply(
            patient=patient,
            message=message,
            text=request.POST.get("text", ""),
            sender=request.user,
            sender_label=_actor_label(request),
        )
    except ReplyError:
        messages.error(request, _("Write your answer before sending it."))
    else:
        messages.success(request, _("Your answer was sent to the clinic."))
    return redirect("portal:inbox_message", public_id=message.public_id)


@require_POST
@patient_required("messages")
def inbox_mark_read(request: HttpRequest, public_id: UUID) -> HttpResponse:
    message = _message_get(request.portal, public_id)
    if message.direction == Message.Direction.OUTBOUND:
        message_mark_read(message=message, channel=Channel.INAPP)
    return redirect("portal:inbox")


@require_http_methods(["GET", "POST"])
@patient_required("messages")
def inbox_object(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET asks for confirmation; POST withdraws the message's purpose on
    every channel (care and security cannot be refused: the answer explains
    why)."""
    access = request.portal
    message = _message_get(access, public_id)
    why = _why(message)
    may_object = why.purpose not in NOT_OBJECTABLE and _may_object(
        access, message, why.purpose
    )
    if request.method == "GET":
        if not may_object:
            return redirect("portal:inbox_message", public_id=message.public_id)
        return _render(
            request,
            access.patient,
            "portal/inbox/object_confirm.html",
            {
                "purpose_label": Purpose(why.purpose).label,
                "action_url": request.path,
                "back_url": reverse("portal:inbox_message", args=[message.public_id]),
            },
        )
    if not may_object:
        messages.info(
            request,
            _(
                "Messages about your care and the security of your account "
                "cannot be switched off: the clinic needs them to treat you "
                "safely. You can still choose the channels in your preferences."
            )
            if why.purpose in NOT_OBJECTABLE
            else _("Only the patient can change these choices."),
        )
    else:
        try:
            consent_withdraw(
                patient=access.patient,
                purpose=why.purpose,
                source="portal",
                actor=request.user,
                actor_label=_actor_label(request),
            )
        except ConsentError:
            messages.error(request, _("Your choice could not be recorded."))
        else:
            messages.success(
                request,
                _("Done: you will no longer receive messages for “%(purpose)s”.")
                % {"purpose": Purpose(why.purpose).label},
            )
    return redirect("portal:inbox_message", public_id=message.public_id)


def _hide_done(message: Message, hidden: bool) -> str:
    if message.conversation_id is None:
        return (
            _(
                "Done: your parents, guardians and anyone else who acts for you "
                "can no longer see this message. You and the clinic still can."
            )
            if hidden
            else _("Done: the people who act for you can see this message again.")
        )
    return (
        _(
            "Done: your parents, guardians and anyone else who acts for you can "
            "no longer see this conversation, nor later messages in it. You and "
            "the clinic still can."
        )
        if hidden
        else _("Done: the people who act for you can see this conversation again.")
    )


def _hide(request: HttpRequest, public_id: UUID, *, hidden: bool) -> HttpResponse:
    access = request.portal
    if access.is_proxy:
        raise Http404  # only the patient decides what the proxies see
    message = _message_get(access, public_id)
    try:
        inbox_line_hide(
            access=access, message=message, hidden=hidden, user=request.user
        )
    except PrivacyError:
        messages.error(
            request,
            _(
                "You can hide messages from the people who act for you from "
                "the age of %(age)s."
            )
            % {"age": settings.PORTAL_PROXY_PRIVACY_AGE},
        )
    else:
        messages.success(request, _hide_done(message, hidden))
    return redirect("portal:inbox_message", public_id=message.public_id)


@require_POST
@patient_required("messages")
def inbox_hide(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Hide the message's line (the message or its conversation) from the
    people acting for the patient; the patient only, from the privacy age."""
    return _hide(request, public_id, hidden=True)


@require_POST
@patient_required("messages")
def inbox_unhide(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Show a hidden line to the people acting for the patient again."""
    return _hide(request, public_id, hidden=False)
