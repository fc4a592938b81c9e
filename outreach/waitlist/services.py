"""Waitlists and backfill: a cancelled appointment's slot is offered to the
patients waiting for one like it; the first valid answer takes it.

Every offer and answer goes through the messaging pipeline (the care topic
``OUTREACH_WAITLIST_TOPIC``), so consent, quiet hours and channels apply. The
texts carry the date, time and site, never the kind of visit (clinical).

"Never given twice": ``slot_offer_take`` locks the offer row; the second
answer finds it taken and is told the slot is gone.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from clinic.models import Appointment, Patient
from clinic.services import appointment_save
from consent.keywords import keyword_answers_check, keyword_normalize
from messaging.services import message_send
from outreach.waitlist.models import SlotOffer, SlotOfferRecipient, WaitlistEntry

logger = logging.getLogger(__name__)
SALT = "outreach.slot-offer"
ACTIVE = [Appointment.Status.BOOKED, Appointment.Status.CONFIRMED]


class SlotGoneError(Exception):
    """The slot was taken by someone else, has started, or the offer ended."""


def _offer_size() -> int:
    return getattr(settings, "OUTREACH_OFFER_SIZE", 5)


def _topic() -> str:
    return getattr(settings, "OUTREACH_WAITLIST_TOPIC", "appointment-reminders")


@transaction.atomic
def waitlist_join(*, patient: Patient, **fields) -> WaitlistEntry:
    """Put ``patient`` on the waitlist; raises ValidationError."""
    entry = WaitlistEntry(
        organization_id=patient.organization_id, patient=patient, **fields
    )
    entry.full_clean()
    entry.save()
    return entry


def waitlist_withdraw(*, entry: WaitlistEntry) -> None:
    WaitlistEntry.objects.filter(
        pk=entry.pk, status=WaitlistEntry.Status.WAITING
    ).update(status=WaitlistEntry.Status.WITHDRAWN)


def _local(moment: datetime.datetime, patient: Patient) -> datetime.datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(patient.time_zone))


def _fits(entry: WaitlistEntry, slot: Appointment) -> bool:
    """The entry's dates and daily windows, in the patient's time zone."""
    start = _local(slot.starts_at, entry.patient)
    end = _local(slot.ends_at, entry.patient)
    if not entry.earliest <= start.date() <= entry.latest:
        return False
    if not entry.time_ranges:
        return True
    begins, ends = start.strftime("%H:%M"), end.strftime("%H:%M")
    return any(low <= begins and ends <= high for low, high in entry.time_ranges)


def waitlist_matches(*, slot: Appointment) -> list[WaitlistEntry]:
    """Waiting entries the slot suits, first come first served, without
    patients already booked at that time."""
    candidates = (
        WaitlistEntry.objects.for_organization(slot.organization_id)
        .waiting()
        .filter(Q(site__isnull=True) | Q(site_id=slot.site_id))
        .filter(Q(practitioner__isnull=True) | Q(practitioner_id=slot.practitioner_id))
        .filter(Q(kind="") | Q(kind=slot.kind))
        .filter(patient__erased_at__isnull=True)
        .exclude(patient_id=slot.patient_id)
        .exclude(
            patient__appointments__status__in=ACTIVE,
            patient__appointments__starts_at__lt=slot.ends_at,
            patient__appointments__ends_at__gt=slot.starts_at,
        )
        .select_related("patient")
        .order_by("created_at", "pk")
    )
    matches, seen = [], set()
    for entry in candidates.iterator(chunk_size=200):
        if entry.patient_id in seen or not _fits(entry, slot):
            continue
        seen.add(entry.patient_id)
        matches.append(entry)
        if len(matches) == _offer_size():
            break
    return matches


def offer_token_make(recipient: SlotOfferRecipient) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(recipient.pk))


def offer_token_read(token: str) -> SlotOfferRecipient:
    """The offer a link stands for; raises SlotGoneError when it cannot act."""
    try:
        pk = int(signing.TimestampSigner(salt=SALT).unsign(token, max_age=86400 * 30))
    except (signing.BadSignature, ValueError) as exc:
        raise SlotGoneError from exc
    recipient = (
        SlotOfferRecipient.objects.select_related(
            "offer__freed__site", "offer__organization", "entry__patient"
        )
        .filter(pk=pk)
        .first()
    )
    if recipient is None:
        raise SlotGoneError
    return recipient


def _when(slot: Appointment, patient: Patient) -> dict:
    with timezone.override(patient.time_zone):
        local = timezone.localtime(slot.starts_at)
        return {
            "date": formats.date_format(local, "DATE_FORMAT"),
            "time": formats.time_format(local, "TIME_FORMAT"),
            "site": slot.site.name,
            "organization": slot.organization.name,
        }


def _send(patient: Patient, key: str, text: str) -> None:
    message_send(
        patient=patient,
        topic=_topic(),
        origin="system",
        text=text,
        idempotency_key=key,
    )


def _offer_text(recipient: SlotOfferRecipient) -> str:
    patient = recipient.entry.patient
    slot = recipient.offer.freed
    link = settings.SITE_URL + reverse("slot_offer", args=[offer_token_make(recipient)])
    with translation.override(patient.preferred_language):
        return _(
            "%(organization)s: a slot is free on %(date)s at %(time)s (%(site)s). "
            "Reply YES or OUI to take it, or open %(link)s. First answer wins."
        ) % (_when(slot, patient) | {"link": link})


@transaction.atomic
def slot_offer_open(*, freed: Appointment) -> SlotOffer | None:
    """Offer a cancelled appointment's slot to the first matching entries;
    None when it has started, was offered already, or nobody matches."""
    if (
        freed.starts_at <= timezone.now()
        or SlotOffer.objects.filter(freed=freed).exists()
    ):
        return None
    entries = waitlist_matches(slot=freed)
    if not entries:
        return None
    offer = SlotOffer.objects.create(organization_id=freed.organization_id, freed=freed)
    for entry in entries:
        recipient = SlotOfferRecipient.objects.create(offer=offer, entry=entry)
        recipient.offer = offer
        _send(entry.patient, f"slot-offer:{recipient.pk}", _offer_text(recipient))
    logger.info("slot offer %s sent to %s waiting patients", offer.pk, len(entries))
    return offer


def slot_offer_take(*, recipient: SlotOfferRecipient) -> Appointment:
    """Book the offered slot for this recipient; raises SlotGoneError when someone
    else answered first, the slot has started or the offer was closed."""
    with transaction.atomic():
        offer = SlotOffer.objects.select_for_update().get(pk=recipient.offer_id)
        current = SlotOfferRecipient.objects.select_related("entry__patient").get(
            pk=recipient.pk
        )
        slot = offer.freed
        if (
            offer.status != SlotOffer.Status.OPEN
            or current.status != SlotOfferRecipient.Status.OFFERED
            or slot.starts_at <= timezone.now()
        ):
            raise SlotGoneError
        patient = current.entry.patient
        booked = appointment_save(
            appointment=Appointment(
                organization_id=slot.organization_id,
                patient=patient,
                site_id=slot.site_id,
                practitioner_id=slot.practitioner_id,
                kind=slot.kind,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                status=Appointment.Status.CONFIRMED,
            )
        )
        now = timezone.now()
        SlotOffer.objects.filter(pk=offer.pk).update(
            status=SlotOffer.Status.TAKEN,
            taken_by=current.entry,
            booked=booked,
            closed_at=now,
        )
        SlotOfferRecipient.objects.filter(pk=current.pk).update(
            status=SlotOfferRecipient.Status.WON
        )
        WaitlistEntry.objects.filter(pk=current.entry_id).update(
            status=WaitlistEntry.Status.SERVED
        )
        _tell_the_others(offer, slot, winner=current)
        with translation.override(patient.preferred_language):
            text = _(
                "%(organization)s: the slot on %(date)s at %(time)s (%(site)s) is "
                "yours. See you then."
            ) % _when(slot, patient)
        _send(patient, f"slot-won:{current.pk}", text)
    return booked


def _tell_the_others(
    offer: SlotOffer, slot: Appointment, winner: SlotOfferRecipient
) -> None:
    others = list(
        SlotOfferRecipient.objects.filter(
            offer=offer, status=SlotOfferRecipient.Status.OFFERED
        )
        .exclude(pk=winner.pk)
        .select_related("entry__patient")
    )
    SlotOfferRecipient.objects.filter(pk__in=[o.pk for o in others]).update(
        status=SlotOfferRecipient.Status.GONE
    )
    for other in others:
        patient = other.entry.patient
        with translation.override(patient.preferred_language):
            text = _(
                "%(organization)s: the slot on %(date)s at %(time)s was taken by "
                "someone else. You stay on the waitlist."
            ) % _when(slot, patient)
        _send(patient, f"slot-gone:{other.pk}", text)


YES_WORDS = {"YES", "OUI"}
keyword_answers_check(YES_WORDS, feature="waitlist")


def slot_offer_reply(*, patient: Patient, text: str) -> bool:
    """An SMS answer: YES/OUI takes the patient's latest offer of the last
    two days. Returns whether the text answered an offer (handled here).
    Idempotent: a provider retrying the webhook changes nothing more."""
    if keyword_normalize(text).replace(" ", "") not in YES_WORDS:
        return False
    recipient = latest_offer(patient=patient)
    if recipient is None:
        return False
    if recipient.status != SlotOfferRecipient.Status.OFFERED:
        return True  # won already, or told it was gone
    try:
        slot_offer_take(recipient=recipient)
    except SlotGoneError:
        # Closed without a taker, or started: say so (once, by its key).
        with translation.override(patient.preferred_language):
            text = _("%(organization)s: sorry, this slot is no longer free.") % {
                "organization": recipient.offer.organization.name
            }
        _send(patient, f"slot-late:{recipient.pk}", text)
    return True


def slot_offer_sms_answer(sms) -> bool:
    """Reply handler (``messaging.inbound``) for YES / OUI to an offer.

    OUI and YES also confirm a reminder: the most recent question wins. When
    the patient's latest answerable reminder went out after their latest
    offer, the reminder's handler gets the answer."""
    from outreach.reminders.answers import answerable_reminder

    if keyword_normalize(sms.text).replace(" ", "") not in YES_WORDS:
        return False
    recipient = latest_offer(patient=sms.patient)
    if recipient is None:
        return False
    reminder = answerable_reminder(
        patient_id=sms.patient.pk, from_number=sms.from_number, now=timezone.now()
    )
    if reminder is not None and reminder.last_sent > recipient.offered_at:
        return False
    return slot_offer_reply(patient=sms.patient, text=sms.text)


def latest_offer(*, patient: Patient) -> SlotOfferRecipient | None:
    """The patient's most recent offer of the last two days, if any."""
    return (
        SlotOfferRecipient.objects.filter(
            entry__patient=patient,
            offered_at__gte=timezone.now() - datetime.timedelta(days=2),
        )
        .select_related("offer__freed__site", "offer__organization", "entry__patient")
        .order_by("-offered_at", "-pk")
        .first()
    )


def on_appointment_changed(sender, appointment: Appointment, created: bool, **kwargs):
    """A cancelled future appointment frees its slot for the waitlist."""
    if not created and appointment.status == Appointment.Status.CANCELLED:
        slot_offer_open(freed=appointment)
