"""Messaging's part of a patient's GDPR export and erasure (registered with
``consent.gdpr.registry`` in ``MessagingConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from clinic.models import Patient


def _addresses(patient: Patient) -> list[str]:
    phone = patient.phone.as_e164 if patient.phone else ""
    return [a for a in (patient.email, phone) if a]


def messages_export(patient: Patient) -> list[dict[str, Any]]:
    """The patient's messages with their text and how each channel fared."""
    from messaging.models import Message

    messages = (
        Message.objects.filter(patient=patient)
        .select_related("topic")
        .prefetch_related("deliveries")
        .order_by("created_at", "id")
    )
    return [
        {
            "public_id": str(m.public_id),
            "created_at": m.created_at.isoformat(),
            "direction": m.direction,
            "origin": m.origin,
            "topic": m.topic.slug,
            "subject": m.subject,
            "body": m.body,
            "read_at": m.read_at.isoformat() if m.read_at else None,
            "deliveries": [
                {
                    "channel": d.channel,
                    "status": d.status,
                    "reason": d.reason,
                    "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                }
                for d in m.deliveries_in_order
            ],
        }
        for m in messages
    ]


def messages_erase(patient: Patient) -> int:
    """Blank message texts, rendered contents and addresses; return rows changed.

    Runs before the patient loses their contact points, so outbox rows and
    unmatched SMS holding only a copy of the address are found by it.
    """
    from messaging.models import (
        Delivery,
        Message,
        OutboxEntry,
        UnmatchedInbound,
    )
    from messaging.threads import thread_model

    addresses = _addresses(patient)
    same_org = Q(organization=patient.organization) | Q(organization__isnull=True)
    rows = OutboxEntry.objects.filter(
        Q(delivery__message__patient=patient) | (same_org & Q(to__in=addresses))
    ).update(to="", subject="", body="")
    rows += UnmatchedInbound.objects.filter(
        same_org & Q(from_number__in=addresses)
    ).update(from_number="", text="")
    rows += Delivery.objects.filter(message__patient=patient).update(
        address="",
        subject="",
        body="",
        body_html="",
        secret_body="",
        secret_body_html="",
    )
    rows += Message.objects.filter(patient=patient).update(
        subject="", body="", secret_body="", context={}
    )
    rows += thread_model().objects.filter(patient=patient).update(subject="")
    return rows
