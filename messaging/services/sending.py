"""Planning a message: the Message and its Delivery rows, in one transaction."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from secrets import token_hex

from phonenumber_field.phonenumber import to_python

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from clinic.models import Patient
from clinic.services import phone_is_mobile
from consent.errors import ConsentError
from consent.limits import SendRequest
from consent.models import Topic
from consent.policy import Decision, PatientFacts, Why, evaluate
from consent.selectors import channel_order_get, decide, rules_for, topic_resolve
from consent.vocabulary import Channel, Outcome, Purpose
from messaging.content import (
    Content,
    MessageContentError,
    confidential_notice,
    content_hash,
    context_for,
    delivery_address,
    pick_templates,
    render_template,
    text_email_subject,
)
from messaging.models import Delivery, DeliveryReason, Message, Template
from messaging.redaction import SecretError, fill, masked, secrets_check
from messaging.rendering import sms_text
from messaging.services.channel_walk import walk
from messaging.threads import thread_model

logger = logging.getLogger(__name__)
Status = Delivery.Status


def _contents(
    *,
    patient: Patient,
    topic: Topic,
    context: dict,
    text: str,
    subject: str,
    confidential: bool,
    topic_templates: list[Template] | None = None,
    secrets: dict[str, str] | None = None,
    secret_text: str = "",
) -> dict[str, Content]:
    """channel → what it carries, before confidentiality notices are applied.

    ``topic_templates``: the topic's templates when the caller already has them
    (the bulk form loads them once for every patient). ``secrets``: the
    values of secret variables, rendered masked in ``body`` and real in
    ``secret_body`` (``messaging.redaction``); in free text only their
    placeholders are filled. ``secret_text``: the real text of a free
    ``text`` already masked (a fallback, from the message)."""
    secrets = secrets or {}
    if text:
        shown, real = text, secret_text
        if secrets:
            shown, real = fill(text, masked(secrets)), fill(text, secrets)
        contents = {
            c: Content(subject, shown, "", confidential, secret_body=real)
            for c in Channel.values
        }
        if not subject:
            contents[Channel.EMAIL].subject = text_email_subject(
                organization_name=patient.organization.name,
                language=(
                    patient.preferred_language or patient.organization.default_language
                ),
            )
        return contents
    if topic_templates is None:
        topic_templates = list(Template.objects.filter(topic=topic))
    templates = pick_templates(
        topic_templates,
        patient.preferred_language,
        patient.organization.default_language,
    )
    if not templates:
        raise MessageContentError(
            f"Topic {topic.slug!r} has no template and no text was given."
        )
    contents = {
        channel: render_template(t, context, secrets)
        for channel, t in templates.items()
    }
    if Channel.INAPP not in contents:
        # The inbox always keeps the full message: take the richest other variant.
        source = contents.get(Channel.EMAIL) or next(iter(contents.values()))
        contents[Channel.INAPP] = Content(
            source.subject,
            source.body,
            "",
            source.confidential,
            secret_body=source.secret_body,
        )
    return contents


@transaction.atomic
def message_send(
    *,
    patient: Patient,
    topic: Topic | str,
    origin: str,
    context: dict | None = None,
    text: str = "",
    subject: str = "",
    confidential: bool = False,
    idempotency_key: str = "",
    origin_ref: str = "",
    sender=None,
    conversation: Model | None = None,
    at: datetime.datetime | None = None,
    channels: list[str] | None = None,
    address: str = "",
    secrets: dict[str, str] | None = None,
    secrets_expire_at: datetime.datetime | None = None,
) -> Message:
    """Plan one message to one patient and queue its deliveries.

    ``secrets``: the credentials the message carries (secret variables,
    ``messaging.variables``: a one-time code, a single-use link), only on a
    security topic and with ``secrets_expire_at``. Stored bodies, and so
    every staff screen, the API and exports, show them masked; the real text
    is kept apart for the backend until the delivery is final or the secret
    expires (``messaging.redaction``). A delivery still unsent when it
    expires is not sent (``secret_expired``).

    ``channels`` limits the message to those channels (a code the patient
    asked to receive by SMS goes by SMS, or not at all).

    ``address`` sends it to that address instead of the patient's own, on the
    one external channel ``channels`` names, and only on a security topic: a
    code proving that a new email or phone belongs to the patient before it is
    saved, or a notice to the address a change replaced. Consent judges that
    address as verified (the code is what verifies it); every other rule
    still applies. Such a delivery never falls back to another channel.

    Returns the Message; with an ``idempotency_key`` already used by this
    organization, returns that first Message and sends nothing more. Raises
    ConsentError (unknown topic, other organization, a security topic sent
    by a partner system) or MessageContentError
    (unknown variable, no template). Writes Message + Delivery rows in one
    transaction; the delivery task is queued after commit.
    """
    if idempotency_key:
        existing = Message.objects.filter(
            organization_id=patient.organization_id, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    topic = topic_resolve(patient=patient, topic=topic)
    if origin == Message.Origin.API and topic.purpose == Purpose.SECURITY:
        # Security topics ignore opt-outs and caps: only Liaison's own codes
        # and alerts may use them.
        raise ConsentError("A partner system cannot send on a security topic.")
    if address:
        _check_address_override(topic, channels)
    at = at or timezone.now()
    secrets = _secrets_check(topic, secrets, secrets_expire_at)
    values = context_for(patient, context)
    contents = _contents(
        patient=patient,
        topic=topic,
        context=values,
        text=text,
        subject=subject,
        confidential=confidential,
        secrets=secrets,
    )
    message = _message_build(
        patient=patient,
        topic=topic,
        inbox=contents[Channel.INAPP],
        origin=origin,
        origin_ref=origin_ref,
        idempotency_key=idempotency_key,
        context=context,
        free_text=bool(text),
        at=at,
        conversation=conversation,
        sender=sender,
        secrets_expire_at=secrets_expire_at if secrets else None,
    )
    # Planned before the message is saved: planning says why it is sent.
    deliveries = _plan(message, patient, topic, contents, at, channels, address)
    if topic.must_acknowledge and not address:
        deliveries += _plan_escalation(
            message, patient, topic, contents, at, deliveries
        )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if idempotency_key:  # a concurrent call with the same key won the race
            return Message.objects.get(
                organization_id=patient.organization_id, idempotency_key=idempotency_key
            )
        raise
    Delivery.objects.bulk_create(deliveries)
    if conversation is not None:
        thread_model().objects.filter(pk=conversation.pk).update(last_message_at=at)
    deliveries_enqueue([d.pk for d in deliveries if d.status == Status.QUEUED])
    return message


def _secrets_check(
    topic: Topic,
    secrets: dict[str, str] | None,
    expire_at: datetime.datetime | None,
) -> dict[str, str]:
    if not secrets:
        return {}
    if topic.purpose != Purpose.SECURITY:
        raise ValueError("Only security messages carry secrets.")
    if expire_at is None:
        raise ValueError("A secret needs secrets_expire_at.")
    try:
        return secrets_check(secrets)
    except SecretError as exc:
        raise MessageContentError(str(exc)) from None


def _message_build(
    *,
    patient: Patient,
    topic: Topic,
    inbox: Content,
    origin: str,
    origin_ref: str,
    idempotency_key: str,
    context: dict | None,
    free_text: bool,
    at: datetime.datetime,
    conversation: Model | None = None,
    sender=None,
    secrets_expire_at: datetime.datetime | None = None,
) -> Message:
    """The Message (unsaved): the inbox text, and what fallbacks need later.

    A message with a secret is never a duplicate of another (its hash is of
    the masked text and a nonce): the masked texts of two codes are the same,
    and a hash of the real one would let the short code be found from it."""
    hashed = inbox.body
    if inbox.secret_body:
        hashed += "\x00" + token_hex(16)
    return Message(
        organization_id=patient.organization_id,
        patient=patient,
        topic=topic,
        conversation=conversation,
        sender=sender,
        origin=origin,
        origin_ref=origin_ref[:200],
        idempotency_key=idempotency_key,
        sensitivity="confidential" if inbox.confidential else "public",
        language=patient.preferred_language,
        subject=inbox.subject,
        body=inbox.body,
        secret_body=inbox.secret_body,
        secret_expires_at=secrets_expire_at if inbox.secret_body else None,
        content_hash=content_hash(topic.pk, inbox.subject, hashed),
        context=context or {},
        free_text=free_text,
        created_at=at,
    )


def _plan(
    message: Message,
    patient: Patient,
    topic: Topic,
    contents: dict[str, Content],
    at,
    channels: list[str] | None = None,
    address: str = "",
) -> list[Delivery]:
    order = channel_order_get(patient=patient, topic=topic)
    if channels is not None:
        order = [channel for channel in order if channel in channels]
    if address:
        return _plan_channels(
            message,
            patient,
            topic,
            contents,
            at,
            order,
            decisions=lambda channel: address_decision(
                patient=patient, topic=topic, channel=channel, address=address, at=at
            ),
            address=address,
        )
    return _plan_channels(message, patient, topic, contents, at, order)


def _check_address_override(topic: Topic, channels: list[str] | None) -> None:
    if topic.purpose != Purpose.SECURITY:
        raise ValueError("Only security messages may go to another address.")
    if not channels or len(channels) != 1 or channels[0] == Channel.INAPP:
        raise ValueError("Another address needs exactly one channel, not the inbox.")


def address_decision(
    *,
    patient: Patient,
    topic: Topic,
    channel: str,
    address: str,
    at: datetime.datetime,
) -> Decision:
    """Consent's answer for a security message to ``address`` rather than the
    patient's own contact point: the patient's facts with that address in its
    place, counted as verified, since the message is what verifies it. A
    malformed address, or a landline for SMS, is still refused. Reads only."""
    is_email = channel == Channel.EMAIL
    well_formed = True
    if is_email:
        try:
            validate_email(address)
        except ValidationError:
            well_formed = False
    phone = None if is_email else to_python(address)
    facts = PatientFacts(
        patient_id=patient.pk,
        time_zone=patient.time_zone,
        erased=patient.erased_at is not None,
        email=address if is_email else "",
        email_verified=True,
        email_invalid=not well_formed,
        phone="" if is_email else address,
        phone_is_mobile=phone_is_mobile(phone),
        phone_verified=True,
        phone_invalid=not is_email and not (phone and phone.is_valid()),
    )
    return evaluate(rules_for(topic), facts, channel, at)


def send_request(delivery: Delivery, decision: Decision | None = None) -> SendRequest:
    """The delivery as consent's admission sees it (``consent.limits``)."""
    message = delivery.message
    return SendRequest(
        ref=delivery.pk,
        patient_id=message.patient_id,
        topic=message.topic,
        channel=delivery.channel,
        message_key=str(message.public_id),
        content_hash=message.content_hash,
        planned_at=message.created_at,
        decision=decision,
    )


def delivery_to_other_address(delivery: Delivery) -> bool:
    """Whether a delivery was planned with ``message_send(address=...)``."""
    return delivery.to_address_being_verified


def _plan_channels(
    message: Message,
    patient: Patient,
    topic: Topic,
    contents: dict[str, Content],
    at,
    order: list[str],
    decisions: Callable[[str], Decision] | None = None,
    address: str = "",
) -> list[Delivery]:
    """Deliveries for the inbox and the first usable other channel, in
    ``order``; channels tried before it keep their reason for staff.

    ``decisions``: channel → consent's answer, when the caller decided set-wise;
    by default ``consent.decide`` is asked here. ``address``: where the
    external delivery goes instead of the patient's own address."""
    if decisions is None:

        def decisions(channel: str) -> Decision:
            return decide(
                patient,
                topic,
                channel,
                at,
                message_key=str(message.public_id),
                content_hash=message.content_hash,
            )

    plans, why = channel_plans(
        order=order,
        decision_for=decisions,
        contents=contents,
        at=at,
        confidential=message.sensitivity == "confidential",
        notice=lambda channel: confidential_notice(
            organization_name=patient.organization.name,
            code=message.authenticity_code,
            channel=channel,
            language=message.language,
        ),
        address_for=lambda channel: address or delivery_address(patient, channel),
        to_other_address=bool(address),
    )
    if why is not None:
        message.why = why.as_dict()  # saved with the message
    return [
        Delivery(
            message=message,
            channel=plan.channel,
            address=plan.address,
            to_address_being_verified=plan.to_address_being_verified,
            status=plan.status,
            reason=plan.reason,
            subject=plan.subject,
            body=plan.body,
            body_html=plan.body_html,
            secret_body=plan.secret_body,
            secret_body_html=plan.secret_body_html,
            next_attempt_at=plan.next_attempt_at,
        )
        for plan in plans
    ]


@dataclass(slots=True)
class ChannelPlan:
    """One Delivery row as planned, before it is a model instance (the bulk
    form writes these with COPY)."""

    channel: str
    address: str
    to_address_being_verified: bool
    next_attempt_at: datetime.datetime
    status: str = Status.QUEUED
    reason: str = ""
    subject: str = ""
    body: str = ""
    body_html: str = ""
    secret_body: str = ""
    secret_body_html: str = ""


def channel_plans(
    *,
    order: list[str],
    decision_for: Callable[[str], Decision],
    contents: dict[str, Content],
    at: datetime.datetime,
    confidential: bool,
    notice: Callable[[str], Content],
    address_for: Callable[[str], str],
    to_other_address: bool = False,
) -> tuple[list[ChannelPlan], Why | None]:
    """One planned row per channel ``channel_walk.walk`` tries along
    ``order`` (the inbox, and the first other channel not suppressed, those
    tried before it keeping their reason). Returns the plans and the inbox
    decision's ``why``.

    ``confidential``: the message is (its inbox text is); ``notice(channel)``
    is what a confidential message carries outside the inbox."""

    carried: dict[str, Content | None] = {}

    def has_content(channel: str) -> bool:
        content = contents.get(channel)
        # A confidential message (or variant) leaves the inbox only as a
        # notice, which needs no template of its own.
        if channel != Channel.INAPP and (
            confidential or (content is not None and content.confidential)
        ):
            content = notice(channel)
        carried[channel] = content
        return content is not None

    tried, _chosen = walk(order, decision_for, has_content)
    plans = []
    why = None
    for channel, decision in tried:
        content = carried[channel] if channel in carried else contents.get(channel)
        plan = ChannelPlan(
            channel,
            address_for(channel),
            to_other_address and channel != Channel.INAPP,
            at,
        )
        if channel == Channel.INAPP and decision.why is not None:
            why = decision.why
        if decision.outcome == Outcome.SUPPRESS:
            plan.status, plan.reason = Status.SUPPRESSED, decision.reason
        elif content is None:
            plan.status, plan.reason = Status.SUPPRESSED, DeliveryReason.NO_TEMPLATE
        else:
            if channel != Channel.INAPP:  # the inbox shows the Message itself
                body, secret_body = content.body, content.secret_body
                if channel == Channel.SMS:
                    # GSM-7 where it costs nothing
                    body, secret_body = sms_text(body), sms_text(secret_body)
                plan.subject, plan.body = content.subject, body
                plan.body_html = content.body_html
                # Kept apart for the backend; a suppressed row never holds it.
                plan.secret_body = secret_body
                plan.secret_body_html = content.secret_body_html
            if decision.outcome == Outcome.DEFER:
                plan.status, plan.reason = Status.DEFERRED, decision.reason
                plan.next_attempt_at = decision.until
        plans.append(plan)
    return plans, why


def _plan_escalation(
    message: Message,
    patient: Patient,
    topic: Topic,
    contents: dict[str, Content],
    at: datetime.datetime,
    planned: list[Delivery],
) -> list[Delivery]:
    """The ladder of a must-acknowledge topic: each later channel waits as a
    deferred delivery that reading or answering cancels (``message_mark_read``)."""
    used = {d.channel for d in planned}
    steps = []
    for step in topic.escalation_ladder:
        when = at + datetime.timedelta(hours=step["after_hours"])
        if step.get("staff"):
            message.escalate_to_staff_at = when  # saved with the message
            continue
        if step["channel"] in used:
            continue
        used.add(step["channel"])
        [delivery] = _plan_channels(
            message, patient, topic, contents, when, [step["channel"]]
        )
        if delivery.status != Status.SUPPRESSED:
            delivery.status, delivery.reason = (
                Status.DEFERRED,
                DeliveryReason.ESCALATION,
            )
            delivery.next_attempt_at = max(delivery.next_attempt_at, when)
        steps.append(delivery)
    return steps


def deliveries_enqueue(ids: list[int]) -> None:
    """Queue the delivery task after commit, in batches, with ids only."""
    if not ids:
        return
    from django_q.tasks import async_task

    size = settings.MESSAGING_DELIVERY_BATCH

    def enqueue() -> None:
        for start in range(0, len(ids), size):
            async_task("messaging.tasks.deliveries_process", ids[start : start + size])

    transaction.on_commit(enqueue)


@transaction.atomic
def message_mark_read(*, message: Message, channel: str = Channel.INAPP) -> Message:
    """Mark a message read and cancel its copies still waiting on other channels."""
    now = timezone.now()
    if message.read_at is None:
        Message.objects.filter(pk=message.pk).update(read_at=now)
        message.read_at = now
    message.deliveries.filter(channel=channel).exclude(status=Status.READ).update(
        status=Status.READ, read_at=now
    )
    message.deliveries.filter(status__in=[Status.QUEUED, Status.DEFERRED]).exclude(
        channel=channel
    ).update(
        status=Status.CANCELLED,
        reason=DeliveryReason.ALREADY_READ,
        lease_expires_at=None,
        # Final: what it would have carried goes (services.redaction).
        secret_body="",
        secret_body_html="",
    )
    return message
