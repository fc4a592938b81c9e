"""Domain signals → webhook events. Connected in ``ApiConfig.ready``; the
domain apps send the signals and know nothing of webhooks.

Payloads carry public ids, statuses and reasons, never a message's text, a
cancellation's reason in the patient's words or any other health data: a
partner reads details through the API, with its scopes and the access audit.
"""

from __future__ import annotations

from api.models import WebhookEvent
from api.webhooks.services import webhook_subscribers, webhooks_emit
from clinic.models import Appointment, AppointmentStatus

APPOINTMENT_EVENTS = {
    AppointmentStatus.CONFIRMED: WebhookEvent.APPOINTMENT_CONFIRMED,
    AppointmentStatus.CANCELLED: WebhookEvent.APPOINTMENT_CANCELLED,
}


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def on_appointment_changed(
    sender, appointment: Appointment, created: bool, previous_status=None, **kwargs
) -> None:
    """appointment.confirmed / appointment.cancelled, when the status became so."""
    event = APPOINTMENT_EVENTS.get(appointment.status)
    if event is None or appointment.status == previous_status:
        return
    subscribers = webhook_subscribers(event, [appointment.organization_id])
    if not subscribers:
        return
    patient_id = _public_id(Appointment.patient, appointment)
    data = {
        "appointment": str(appointment.public_id),
        "patient": patient_id,
        "external_id": appointment.external_id,
        "status": appointment.status,
        "starts_at": _iso(appointment.starts_at),
    }
    webhooks_emit(event, [(appointment.organization_id, data)], subscribers=subscribers)


def _public_id(field, obj) -> str:
    """The public id of ``obj``'s related object, loading only that column."""
    related = field.field.related_model
    cached = field.field.get_cached_value(obj, default=None)
    if cached is not None:
        return str(cached.public_id)
    pk = getattr(obj, field.field.attname)
    return str(related._base_manager.values_list("public_id", flat=True).get(pk=pk))


def on_delivery_status_changed(sender, deliveries: list, **kwargs) -> None:
    """delivery.updated for each delivery, one subscription lookup per batch."""
    from clinic.models import Patient

    event = WebhookEvent.DELIVERY_UPDATED
    subscribers = webhook_subscribers(
        event, {d.message.organization_id for d in deliveries}
    )
    if not subscribers:
        return
    deliveries = [d for d in deliveries if d.message.organization_id in subscribers]
    patients = dict(
        Patient._base_manager.filter(
            pk__in={d.message.patient_id for d in deliveries}
        ).values_list("pk", "public_id")
    )
    webhooks_emit(
        event,
        [
            (
                d.message.organization_id,
                {
                    "message": str(d.message.public_id),
                    "patient": str(patients[d.message.patient_id]),
                    "channel": d.channel,
                    "status": d.status,
                    "reason": d.reason,
                    "error_code": d.error_code,
                },
            )
            for d in deliveries
        ],
        subscribers=subscribers,
    )


def on_message_received(sender, message, channel: str, **kwargs) -> None:
    """message.received: ids only, never what the patient wrote."""
    from messaging.models import Message

    event = WebhookEvent.MESSAGE_RECEIVED
    subscribers = webhook_subscribers(event, [message.organization_id])
    if not subscribers:
        return
    data = {
        "message": str(message.public_id),
        "patient": _public_id(Message.patient, message),
        "conversation": (
            _public_id(Message.conversation, message)
            if message.conversation_id
            else None
        ),
        "channel": channel,
        "received_at": _iso(message.created_at),
    }
    webhooks_emit(event, [(message.organization_id, data)], subscribers=subscribers)


def on_consent_changed(sender, event, **kwargs) -> None:
    """consent.changed: who, for what, granted or withdrawn, from where."""
    from consent.models import ConsentEvent

    patient = event.patient
    subscribers = webhook_subscribers(
        WebhookEvent.CONSENT_CHANGED, [patient.organization_id]
    )
    if not subscribers:
        return
    data = {
        "consent": str(event.public_id),
        "patient": str(patient.public_id),
        "granted": event.granted,
        "purpose": event.purpose or None,
        "topic": _topic_slug(event, ConsentEvent),
        "channel": event.channel or None,
        "source": event.source,
        "occurred_at": _iso(event.occurred_at),
    }
    webhooks_emit(
        WebhookEvent.CONSENT_CHANGED,
        [(patient.organization_id, data)],
        subscribers=subscribers,
    )


def _topic_slug(event, model) -> str | None:
    if not event.topic_id:
        return None
    cached = model.topic.field.get_cached_value(event, default=None)
    if cached is not None:
        return cached.slug
    return model.topic.field.related_model._base_manager.values_list(
        "slug", flat=True
    ).get(pk=event.topic_id)


def on_survey_completed(sender, response, **kwargs) -> None:
    """survey.completed: which survey, whose answers (none for an anonymous
    survey), never the answers themselves (read them with surveys:read)."""
    survey = response.survey
    subscribers = webhook_subscribers(
        WebhookEvent.SURVEY_COMPLETED, [response.organization_id]
    )
    if not subscribers:
        return
    data = {
        "response": str(response.public_id),
        "survey": str(survey.public_id),
        "patient": str(response.patient.public_id) if response.patient_id else None,
        "complete": response.complete,
        "submitted_at": _iso(response.submitted_at),
    }
    webhooks_emit(
        WebhookEvent.SURVEY_COMPLETED,
        [(response.organization_id, data)],
        subscribers=subscribers,
    )


def connect() -> None:
    from clinic.signals import appointment_changed
    from consent.signals import consent_changed
    from feedback.signals import survey_completed
    from messaging.signals import delivery_status_changed, message_received

    appointment_changed.connect(on_appointment_changed, dispatch_uid="api.webhooks")
    delivery_status_changed.connect(
        on_delivery_status_changed, dispatch_uid="api.webhooks"
    )
    message_received.connect(on_message_received, dispatch_uid="api.webhooks")
    consent_changed.connect(on_consent_changed, dispatch_uid="api.webhooks")
    survey_completed.connect(on_survey_completed, dispatch_uid="api.webhooks")
