"""Writes on consent: the ledger, the derived state, preferences, sends."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import Organization, Patient
from consent.errors import ConsentError
from consent.models import (
    ConsentEvent,
    ConsentState,
    OrganizationPolicy,
    PatientPreferences,
    Topic,
)
from consent.signals import consent_changed
from consent.vocabulary import Channel, Purpose, Source

# A time zone's rules by country, for organizations created without a policy.
US_VOICE_WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "09:00", "end": "20:00"}]


def policy_get(*, organization: Organization) -> OrganizationPolicy:
    """The organization's sending policy, created with country defaults if missing."""
    try:
        return organization.consent_policy
    except OrganizationPolicy.DoesNotExist:
        pass
    defaults: dict[str, Any] = {}
    if organization.country == "US":
        defaults["voice_marketing_windows"] = US_VOICE_WINDOWS
    policy, _ = OrganizationPolicy.objects.get_or_create(
        organization=organization, defaults=defaults
    )
    organization.consent_policy = policy
    return policy


def policy_with_new_organization(sender, instance, created, raw=False, **kwargs):
    """``post_save`` of Organization: its policy is written with it.

    Created lazily instead, the first row would be inserted inside whatever
    transaction first needs it, and concurrent ones (two campaign planners
    side by side, two sends) would wait on that uncommitted insert until its
    whole transaction commits."""
    if created and not raw:
        policy_get(organization=instance)


def preferences_get(*, patient: Patient) -> PatientPreferences:
    """The patient's preferences row, created empty (organization defaults) if missing."""
    preferences, _ = PatientPreferences.objects.get_or_create(patient=patient)
    return preferences


def _check_scope(
    *, patient: Patient, purpose: str, topic: Topic | None, channel: str
) -> None:
    if bool(purpose) == bool(topic):
        raise ConsentError("A consent event is about one purpose or one topic.")
    if purpose and purpose not in Purpose.values:
        raise ConsentError(f"Unknown purpose: {purpose!r}.")
    if topic is not None and topic.organization_id != patient.organization_id:
        raise ConsentError(
            "The topic belongs to another organization than the patient."
        )
    if channel and channel not in Channel.values:
        raise ConsentError(f"Unknown channel: {channel!r}.")


@transaction.atomic
def consent_record(
    *,
    patient: Patient,
    granted: bool,
    source: str,
    purpose: str = "",
    topic: Topic | None = None,
    channel: str = "",
    actor: Any = None,
    actor_label: str = "",
    wording_version: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    evidence: dict | None = None,
    occurred_at: datetime.datetime | None = None,
) -> ConsentEvent:
    """Append one consent event to the ledger and update the derived state.

    Raises ConsentError for an impossible request: an unknown purpose, topic or
    channel, another organization's topic, withdrawing security messages (they
    always reach a verified contact point) or the secure inbox of care topics.
    Sends ``consent.signals.consent_changed`` inside the transaction.
    """
    _check_scope(patient=patient, purpose=purpose, topic=topic, channel=channel)
    if source not in Source.values:
        raise ConsentError(f"Unknown consent source: {source!r}.")
    effective_purpose = topic.purpose if topic is not None else purpose
    if not granted and effective_purpose == Purpose.SECURITY:
        raise ConsentError("Security messages cannot be switched off.")
    if not granted and effective_purpose == Purpose.CARE and channel == Channel.INAPP:
        raise ConsentError("Care messages always reach the secure inbox.")
    event = ConsentEvent(
        patient=patient,
        purpose=purpose,
        topic=topic,
        channel=channel,
        action=ConsentEvent.Action.GRANTED
        if granted
        else ConsentEvent.Action.WITHDRAWN,
        source=source,
        actor=actor,
        actor_label=actor_label[:200],
        wording_version=wording_version,
        ip_address=ip_address,
        user_agent=user_agent[:400],
        evidence=evidence or {},
        occurred_at=occurred_at or timezone.now(),
    )
    event.full_clean()
    event.save()
    _state_apply(event)
    consent_changed.send(sender=ConsentEvent, event=event)
    return event


def consent_grant(**kwargs: Any) -> ConsentEvent:
    return consent_record(granted=True, **kwargs)


def consent_withdraw(**kwargs: Any) -> ConsentEvent:
    return consent_record(granted=False, **kwargs)


def _newer(event: ConsentEvent, state: ConsentState) -> bool:
    return (event.occurred_at, event.pk) >= (state.occurred_at, state.event_id)


def _state_apply(event: ConsentEvent) -> None:
    state = (
        ConsentState.objects.select_for_update()
        .filter(
            patient_id=event.patient_id,
            scope=event.scope_key,
            channel=event.channel_key,
        )
        .first()
    )
    if state is None:
        ConsentState.objects.create(
            patient_id=event.patient_id,
            scope=event.scope_key,
            channel=event.channel_key,
            granted=event.granted,
            event=event,
            occurred_at=event.occurred_at,
        )
    elif _newer(event, state):
        state.granted, state.event, state.occurred_at = (
            event.granted,
            event,
            event.occurred_at,
        )
        state.save(update_fields=["granted", "event", "occurred_at"])


def derive_states(events: Iterable[ConsentEvent]) -> dict[tuple, tuple[bool, int]]:
    """The state the ledger implies: (patient, scope, channel) → (granted, event id)."""
    latest: dict[tuple, tuple] = {}
    for event in events:
        key = (event.patient_id, event.scope_key, event.channel_key)
        rank = (event.occurred_at, event.pk)
        if key not in latest or rank >= latest[key][0]:
            latest[key] = (rank, event.granted, event.pk, event.occurred_at)
    return {key: (granted, pk) for key, (_, granted, pk, _at) in latest.items()}


@transaction.atomic
def consent_state_rebuild(
    *, organization: Organization | None = None, fix: bool = True
) -> list[str]:
    """Recompute the derived state from the ledger; return the differences found.

    With ``fix`` the stored state is corrected to match the ledger.
    """
    events = ConsentEvent.objects.order_by()
    states = ConsentState.objects.all()
    if organization is not None:
        events = events.for_organization(organization)
        states = states.for_organization(organization)
    expected = derive_states(events.iterator(chunk_size=5000))
    stored = {
        (s.patient_id, s.scope, s.channel): s for s in states.iterator(chunk_size=5000)
    }
    differences = []
    for key, (granted, event_id) in expected.items():
        state = stored.pop(key, None)
        if state is None:
            differences.append(f"missing state {key}: ledger says granted={granted}")
        elif (state.granted, state.event_id) != (granted, event_id):
            differences.append(
                f"state {key} says granted={state.granted} (event {state.event_id}), "
                f"ledger says granted={granted} (event {event_id})"
            )
    differences += [f"state {key} has no ledger event" for key in stored]
    if fix and differences:
        states.delete()
        event_times = dict(
            ConsentEvent.objects.filter(
                pk__in=[event_id for _, event_id in expected.values()]
            ).values_list("pk", "occurred_at")
        )
        ConsentState.objects.bulk_create(
            [
                ConsentState(
                    patient_id=patient_id,
                    scope=scope,
                    channel=channel,
                    granted=granted,
                    event_id=event_id,
                    occurred_at=event_times[event_id],
                )
                for (patient_id, scope, channel), (
                    granted,
                    event_id,
                ) in expected.items()
            ],
            batch_size=500,
        )
    return differences


def _validate_channel_order(patient: Patient, channel_order: dict) -> None:
    if not isinstance(channel_order, dict):
        raise ConsentError("The channel order maps topic slugs to lists of channels.")
    topics = {
        t.slug: t
        for t in Topic.objects.for_organization(patient.organization_id).filter(
            slug__in=list(channel_order)
        )
    }
    for slug, channels in channel_order.items():
        topic = topics.get(slug)
        if topic is None:
            raise ConsentError(f"Unknown topic {slug!r} for this organization.")
        if not isinstance(channels, list) or not set(channels) <= set(topic.channels):
            raise ConsentError(f"Topic {slug!r} only uses {', '.join(topic.channels)}.")
        if topic.purpose == Purpose.CARE and Channel.INAPP not in channels:
            raise ConsentError("Care topics always keep the secure inbox channel.")


@transaction.atomic
def preferences_update(*, patient: Patient, **fields: Any) -> PatientPreferences:
    """Change a patient's sending window, campaign frequency or channel order.

    Raises ConsentError or ValidationError (nothing saved) for an empty or
    inverted window, a negative frequency or an impossible channel order.
    """
    allowed = {"send_from", "send_until", "marketing_per_week", "channel_order"}
    unknown = set(fields) - allowed
    if unknown:
        raise ConsentError(f"Unknown preference: {', '.join(sorted(unknown))}.")
    if (
        fields.get("marketing_per_week") is not None
        and fields["marketing_per_week"] < 0
    ):
        raise ConsentError("The campaign frequency cannot be negative.")
    if "channel_order" in fields:
        _validate_channel_order(patient, fields["channel_order"])
    preferences = preferences_get(patient=patient)
    for name, value in fields.items():
        setattr(preferences, name, value)
    preferences.full_clean()
    preferences.save()
    return preferences
