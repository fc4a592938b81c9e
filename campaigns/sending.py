"""Sending a scheduled campaign: the scheduler's finder and the claim-time check.

``campaigns_plan_due`` runs every minute (``outreach.scheduler``). For each
campaign being sent it plans the due recipients a page at a time, each page in
one transaction that holds the campaign's row (``SELECT … FOR UPDATE SKIP
LOCKED``): a second worker cluster skips a campaign another is planning, and a
pause or cancel waits for the page in progress, then wins. Recipients move
from ``pending`` to ``planned`` (with their Message) or ``suppressed`` (with
the reason) in that same transaction, so nobody is planned twice; the
idempotency key ``campaign:<id>:<patient id>`` is the second lock.

``deliveries_still_wanted`` is asked by messaging when a worker claims a
campaign's deliveries: a cancelled campaign's are suppressed, a paused one's
wait.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

from campaigns.audience import iter_pages, language_plans, page_outcomes
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from clinic.models import Patient
from consent.policy import Decision
from consent.vocabulary import Outcome
from messaging.models import Message
from messaging.services import message_send_many

logger = logging.getLogger(__name__)
RecipientStatus = CampaignRecipient.Status
PAGE_SIZE = 1000
CANCELLED = "campaign_cancelled"
PAUSED = "campaign_paused"
PAUSE_RECHECK = datetime.timedelta(seconds=60)


def _tick_seconds() -> float:
    # One tick stops planning after this long, well inside the task timeout;
    # the next tick goes on where it stopped.
    return getattr(settings, "CAMPAIGNS_TICK_SECONDS", 50)


def campaigns_plan_due(now: datetime.datetime) -> int:
    """The finder: plan what is due in every campaign being sent; returns how
    many recipients were planned (or suppressed) now."""
    total = 0
    ids = Campaign.objects.plannable().values_list("pk", flat=True)
    deadline = time.monotonic() + _tick_seconds()
    for campaign_id in list(ids):
        total += campaign_plan_due(campaign_id=campaign_id, now=now, deadline=deadline)
    return total


def campaign_plan_due(
    *,
    campaign_id: int,
    now: datetime.datetime,
    deadline: float | None = None,
    page_size: int = PAGE_SIZE,
) -> int:
    """Plan the campaign's due recipients, page by page, within its throttle
    and until ``deadline`` (a ``time.monotonic()`` value); returns how many."""
    done = 0
    while deadline is None or time.monotonic() < deadline:
        planned = _plan_page(campaign_id, now, page_size)
        if planned is None:
            break
        done += planned
    return done


def _locked_campaign(campaign_id: int) -> Campaign | None:
    campaigns = Campaign.objects.filter(pk=campaign_id).plannable()
    if connection.features.has_select_for_update_skip_locked:
        campaigns = campaigns.select_for_update(skip_locked=True, of=("self",))
    return campaigns.select_related("topic__organization", "organization").first()


@transaction.atomic
def _plan_page(campaign_id: int, now: datetime.datetime, page_size: int) -> int | None:
    """Plan one page; None when there is nothing more to do this tick."""
    campaign = _locked_campaign(campaign_id)
    if campaign is None:  # paused, cancelled, done, or another cluster has it
        return None
    budget = _budget(campaign, now, page_size)
    if budget <= 0:
        return None
    due = CampaignRecipient.objects.filter(
        campaign=campaign, status=RecipientStatus.PENDING, due_at__lte=now
    ).order_by("pk")
    rows = list(due.values_list("pk", "patient_id")[:budget])
    if not rows:
        if not CampaignRecipient.objects.filter(
            campaign=campaign, status=RecipientStatus.PENDING
        ).exists():
            Campaign.objects.filter(pk=campaign.pk).update(
                status=CampaignStatus.DONE, finished_at=now
            )
        return None
    if campaign.status == CampaignStatus.SCHEDULED:
        campaign.status, campaign.started_at = CampaignStatus.SENDING, now
    patient_ids = [patient_id for _, patient_id in rows]
    _plan_patients(campaign, patient_ids, now)
    _count_in_window(campaign, now, len(rows))
    Campaign.objects.filter(pk=campaign.pk).update(
        status=campaign.status,
        started_at=campaign.started_at,
        window_started_at=campaign.window_started_at,
        window_planned=campaign.window_planned,
    )
    return len(rows)


def _budget(campaign: Campaign, now: datetime.datetime, page_size: int) -> int:
    """How many recipients this page may take under the throttle."""
    limit = campaign.throttle_per_minute
    if not limit:
        return page_size
    started = campaign.window_started_at
    if started is None or now - started >= datetime.timedelta(minutes=1):
        return min(page_size, limit)
    return min(page_size, limit - campaign.window_planned)


def _count_in_window(campaign: Campaign, now: datetime.datetime, n: int) -> None:
    started = campaign.window_started_at
    if started is None or now - started >= datetime.timedelta(minutes=1):
        campaign.window_started_at, campaign.window_planned = now, 0
    campaign.window_planned += n


def _plan_patients(campaign: Campaign, patient_ids: list[int], now) -> None:
    """Decide, send to those who receive, and mark every recipient, set-wise."""
    plans = language_plans(campaign)
    patients = Patient.objects.filter(pk__in=patient_ids)
    receiving: list[int] = []
    suppressed: dict[str, list[int]] = defaultdict(list)
    for page in iter_pages(patients, size=len(patient_ids)):
        for patient_id, outcome in page_outcomes(page, campaign, now, plans).items():
            if outcome.receives:
                receiving.append(patient_id)
            else:
                suppressed[outcome.reason].append(patient_id)
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    for reason, ids in suppressed.items():
        recipients.filter(patient_id__in=ids).update(
            status=RecipientStatus.SUPPRESSED, reason=reason, planned_at=now
        )
    if not receiving:
        return
    message_send_many(
        patients=Patient.objects.filter(pk__in=receiving),
        topic=campaign.topic,
        origin=Message.Origin.CAMPAIGN,
        origin_ref=campaign.origin_ref,
        idempotency_prefix=campaign.idempotency_prefix,
        at=now,
        page_size=len(receiving),
    )
    key = Concat(
        Value(f"{campaign.idempotency_prefix}:"),
        Cast(OuterRef("patient_id"), CharField()),
        output_field=CharField(),
    )
    recipients.filter(patient_id__in=receiving).update(
        status=RecipientStatus.PLANNED,
        planned_at=now,
        message_id=Subquery(
            Message.objects.filter(
                organization_id=campaign.organization_id, idempotency_key=key
            )
            # Lets PostgreSQL use the partial unique index on the key.
            .exclude(idempotency_key="")
            .values("pk")[:1]
        ),
    )


def deliveries_still_wanted(
    origin_refs: set[str], now: datetime.datetime
) -> dict[str, Decision]:
    """For messaging's claim-time check: the campaign refs whose deliveries
    must not go now (cancelled: never; paused: later)."""
    ids = {}
    for ref in origin_refs:
        prefix, _, value = ref.partition(":")
        if prefix == "campaign" and value.isdigit():
            ids[int(value)] = ref
    refused = {}
    for campaign_id, status in Campaign.objects.filter(pk__in=ids).values_list(
        "pk", "status"
    ):
        if status == CampaignStatus.CANCELLED:
            refused[ids[campaign_id]] = Decision(Outcome.SUPPRESS, CANCELLED)
        elif status == CampaignStatus.PAUSED:
            refused[ids[campaign_id]] = Decision(
                Outcome.DEFER, PAUSED, until=now + PAUSE_RECHECK
            )
    return refused
