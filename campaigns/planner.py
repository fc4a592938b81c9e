"""Planning a scheduled campaign's messages (the delivery workers send them): the
scheduler's finder and the claim-time check.

``campaigns_plan_due`` runs every minute (``core.scheduler``). For each
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

from campaigns import locks
from campaigns.audience import (
    AudienceRow,
    language_plans,
    rows_outcomes,
)
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from campaigns.selectors import campaign_is_finished
from clinic.models import Patient
from clinic.roles import purposes_allowed
from consent.facts import patient_fact_rows
from consent.policy import Decision
from consent.vocabulary import Outcome
from core.db import filter_ids
from messaging.models import Message
from messaging.services.bulk import (
    LoadedPage,
    PatientRow,
    messages_plan_many,
)
from messaging.services.collector import collector_paused

logger = logging.getLogger(__name__)
RecipientStatus = CampaignRecipient.Status
PAGE_SIZE = 10_000
# Below two pages of this, a campaign is planned by the finder's worker alone.
SHARED_PAGE_MIN = 1_000
CANCELLED = "campaign_cancelled"
PAUSED = "campaign_paused"
PAUSE_RECHECK = datetime.timedelta(seconds=60)


def _tick_seconds() -> float:
    # One tick stops planning after this long, well inside the task timeout;
    # the next tick goes on where it stopped.
    return getattr(settings, "CAMPAIGNS_TICK_SECONDS", 50)


def campaigns_plan_due(now: datetime.datetime) -> int:
    """The finder: plan what is due in every campaign being sent; returns how
    many recipients this worker planned (or suppressed) now.

    An unthrottled campaign with enough due is shared: the finder queues a
    planner task for each other worker of the cluster
    (``campaigns.tasks.campaign_plan``), then plans beside them, in pages
    sized so that every planner has one, so a large campaign uses every
    worker. Each page claims its own recipients, so nobody is planned twice
    however many planners run."""
    total = 0
    ids = Campaign.objects.plannable().values_list("pk", "throttle_per_minute")
    deadline = time.monotonic() + _tick_seconds()
    for campaign_id, throttle in list(ids):
        page_size = PAGE_SIZE
        planners = _planners()
        if planners > 1 and _shared(throttle):
            due = _due_count(campaign_id, now, PAGE_SIZE * planners)
            if due >= 2 * SHARED_PAGE_MIN:
                from django_q.tasks import async_task

                page_size = max(SHARED_PAGE_MIN, min(PAGE_SIZE, -(-due // planners)))
                helpers = min(planners, -(-due // page_size)) - 1
                for _helper in range(helpers):
                    async_task(
                        "campaigns.tasks.campaign_plan", campaign_id, now, page_size
                    )
        total += campaign_plan_due(
            campaign_id=campaign_id, now=now, deadline=deadline, page_size=page_size
        )
    return total


def _purpose_still_allowed(campaign: Campaign, now: datetime.datetime) -> bool:
    """Whether the author's and approver's roles still allow the topic's
    purpose (clinic.roles.ROLE_PURPOSES). A role or the topic's purpose may
    have changed since approval: then the campaign is paused, for staff to
    see, and resuming it is refused while the rule says no."""
    purpose = campaign.topic.purpose
    people = [campaign.author] + ([campaign.approver] if campaign.approver else [])
    if all(purpose in purposes_allowed(person) for person in people):
        return True
    Campaign.objects.filter(pk=campaign.pk).plannable().update(
        status=CampaignStatus.PAUSED, paused_at=now
    )
    logger.warning(
        "Campaign %s paused: a role no longer allows its topic's purpose %s.",
        campaign.pk,
        purpose,
    )
    return False


def _planners() -> int:
    """How many workers plan a large campaign together: the cluster's."""
    workers = getattr(settings, "Q_CLUSTER", {}).get("workers", 1)
    return max(1, getattr(settings, "CAMPAIGNS_PLANNERS", workers))


def _shared(throttle: int | None) -> bool:
    """Whether pages may be planned by several workers at once: not under a
    throttle (its per-minute window is counted on the campaign row, page after
    page), and only where pages can claim rows with ``SKIP LOCKED``."""
    return not throttle and connection.features.has_select_for_update_skip_locked


def _due_count(campaign_id: int, now: datetime.datetime, cap: int) -> int:
    """How many recipients are due now, counted up to ``cap``."""
    due = CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status=RecipientStatus.PENDING, due_at__lte=now
    )
    return due.order_by().values("pk")[:cap].count()


def campaign_plan_due(
    *,
    campaign_id: int,
    now: datetime.datetime,
    deadline: float | None = None,
    page_size: int = PAGE_SIZE,
) -> int:
    """Plan the campaign's due recipients, page by page, within its throttle
    and until ``deadline`` (a ``time.monotonic()`` value); returns how many.

    Several of these may run at once for one unthrottled campaign (the
    finder's planner tasks): each page claims its recipients with ``FOR
    UPDATE SKIP LOCKED`` under the campaign's shared lock
    (``campaigns.locks``)."""
    campaign = (
        Campaign.objects.filter(pk=campaign_id)
        .plannable()
        .select_related("topic", "author", "approver")
        .first()
    )
    if campaign is None or not _purpose_still_allowed(campaign, now):
        return 0
    shared = _shared(campaign.throttle_per_minute)
    if shared and campaign.status == CampaignStatus.SCHEDULED:
        # Before any page: pages planned side by side never write the row.
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.SENDING, started_at=now
        )
    plan_page = _plan_shared_page if shared else _plan_page
    done, after = 0, 0
    while deadline is None or time.monotonic() < deadline:
        planned = plan_page(campaign_id, now, page_size, after)
        if planned is None:
            break
        count, after = planned
        done += count
    return done


def _locked_campaign(campaign_id: int) -> Campaign | None:
    campaigns = Campaign.objects.filter(pk=campaign_id).plannable()
    if connection.features.has_select_for_update_skip_locked:
        campaigns = campaigns.select_for_update(skip_locked=True, of=("self",))
    return campaigns.select_related("topic__organization", "organization").first()


def _due_rows(
    campaign_id: int, now: datetime.datetime, after: int, limit: int, *, claim: bool
) -> list[tuple[int, int]]:
    """(recipient id, patient id) of the next due pending recipients after
    ``after``, by id (keyset: the page reads from where the last one stopped
    rather than sorting all that remain)."""
    due = CampaignRecipient.objects.filter(
        campaign_id=campaign_id,
        status=RecipientStatus.PENDING,
        due_at__lte=now,
        pk__gt=after,
    ).order_by("pk")
    if claim:
        due = due.select_for_update(skip_locked=True)
    return list(due.values_list("pk", "patient_id")[:limit])


def _campaign_mark_done_if_finished(campaign_id: int, now: datetime.datetime) -> None:
    """Mark the campaign done when nothing is left to send
    (``campaign_is_finished``: no recipient pending — none held by a page in
    progress, whose rows still read as pending — and no delivery waiting)."""
    with transaction.atomic():
        if not locks.try_exclusive(campaign_id):
            return  # a page is in progress; whoever plans last marks it
        if campaign_is_finished(campaign_id=campaign_id):
            Campaign.objects.filter(pk=campaign_id).plannable().update(
                status=CampaignStatus.DONE, finished_at=now
            )


def _plan_shared_page(
    campaign_id: int, now: datetime.datetime, page_size: int, after: int
) -> tuple[int, int] | None:
    """One page of an unthrottled campaign, beside other planners; (how
    many, last recipient id), or None when this planner has nothing more."""
    with transaction.atomic():
        # Behind a pause or cancel under way, which then wins.
        locks.shared(campaign_id)
        campaign = (
            Campaign.objects.filter(pk=campaign_id)
            .plannable()
            .select_related("topic__organization", "organization")
            .first()
        )
        if campaign is None:  # paused, cancelled or done
            return None
        rows = _due_rows(campaign_id, now, after, page_size, claim=True)
        if rows:
            _plan_patients(campaign, rows, now)
            return len(rows), rows[-1][0]
    # Nothing after ``after`` for this planner: the rest is another's page,
    # not yet due, or nothing.
    _campaign_mark_done_if_finished(campaign_id, now)
    return None


@transaction.atomic
def _plan_page(
    campaign_id: int, now: datetime.datetime, page_size: int, after: int
) -> tuple[int, int] | None:
    """Plan one page, holding the campaign's row (a throttled campaign's
    window is counted there); None when there is nothing more this tick."""
    campaign = _locked_campaign(campaign_id)
    if campaign is None:  # paused, cancelled, done, or another cluster has it
        return None
    budget = _budget(campaign, now, page_size)
    if budget <= 0:
        return None
    rows = _due_rows(campaign_id, now, after, budget, claim=False)
    if not rows:
        # Done only when nothing is left to send: a delivery deferred for
        # quiet hours keeps the campaign sending, and the finder asks again
        # each minute until it is out.
        if campaign_is_finished(campaign_id=campaign.pk):
            Campaign.objects.filter(pk=campaign.pk).update(
                status=CampaignStatus.DONE, finished_at=now
            )
        return None
    if campaign.status == CampaignStatus.SCHEDULED:
        campaign.status, campaign.started_at = CampaignStatus.SENDING, now
    _plan_patients(campaign, rows, now)
    _count_in_window(campaign, now, len(rows))
    Campaign.objects.filter(pk=campaign.pk).update(
        status=campaign.status,
        started_at=campaign.started_at,
        window_started_at=campaign.window_started_at,
        window_planned=campaign.window_planned,
    )
    return len(rows), rows[-1][0]


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


@collector_paused()  # see messaging.services.collector
def _plan_patients(
    campaign: Campaign, rows: list[tuple[int, int]], now: datetime.datetime
) -> None:
    """Decide, send to those who receive, and mark every recipient, set-wise.

    ``rows``: (recipient id, patient id) of the page. Consent is decided once
    per patient: the answers ``rows_outcomes`` walked are the ones
    ``messages_plan_many`` plans with."""
    plans = language_plans(campaign)
    recipient_of = {patient_id: pk for pk, patient_id in rows}
    everyone = filter_ids(Patient.objects.all(), list(recipient_of))
    # One read of the patients serves consent, the outcomes and the messages.
    facts_rows = {row["id"]: row for row in patient_fact_rows(everyone, *_PAGE_FIELDS)}
    loaded = {pk: _patient_row(row) for pk, row in facts_rows.items()}
    page = [
        AudienceRow(
            pk,
            row.language,
            bool(facts_rows[pk]["preferences__objects_to_automation"]),
            row.channel_order,
        )
        for pk, row in loaded.items()
    ]
    outcomes, decisions = rows_outcomes(
        page, campaign, now, plans, everyone=everyone, facts_rows=facts_rows
    )
    receiving: list[int] = []
    suppressed: dict[int, str] = {}
    for patient_id, outcome in outcomes.items():
        if outcome.receives:
            receiving.append(patient_id)
        else:
            suppressed[recipient_of[patient_id]] = outcome.reason
    planned = {}
    if receiving:
        planned = messages_plan_many(
            patients=LoadedPage(
                [loaded[patient_id] for patient_id in receiving],
                filter_ids(Patient.objects.all(), receiving),
            ),
            topic=campaign.topic,
            origin=Message.Origin.CAMPAIGN,
            origin_ref=campaign.origin_ref,
            idempotency_prefix=campaign.idempotency_prefix,
            at=now,
            decisions=decisions,
        )
    _mark(campaign, recipient_of, suppressed, planned, now)
    already = [patient_id for patient_id in receiving if patient_id not in planned]
    if already:
        # Planned by an earlier attempt (the idempotency key held): link
        # them to that message.
        key = Concat(
            Value(f"{campaign.idempotency_prefix}:"),
            Cast(OuterRef("patient_id"), CharField()),
            output_field=CharField(),
        )
        CampaignRecipient.objects.filter(
            campaign=campaign, patient_id__in=already
        ).update(
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


# What planning reads of a patient besides consent's facts.
_PAGE_FIELDS = (
    "given_name",
    "family_name",
    "preferred_language",
    "preferences__channel_order",
    "preferences__objects_to_automation",
)


def _patient_row(row: dict) -> PatientRow:
    # ``phone_text`` is the stored E.164 text, as ``patient_rows`` reads it.
    return PatientRow(
        row["id"],
        row["organization_id"],
        row["given_name"],
        row["family_name"],
        row["preferred_language"],
        row["email"],
        row["phone_text"],
        row["preferences__channel_order"],
    )


def _mark(
    campaign: Campaign,
    recipient_of: dict[int, int],
    suppressed: dict[int, str],
    planned: dict[int, int],
    now: datetime.datetime,
) -> None:
    """Mark the page's recipients: suppressed with their reason, planned
    with their new Message."""
    if not suppressed and not planned:
        return
    if connection.vendor == "postgresql":
        # One statement for the whole page, the rows joined as arrays: a
        # statement per reason and another for the planned ones each walk
        # the same index. The arrays go as literals psycopg passes as they
        # are (its list dumper tests each of 40,000 items with a regular
        # expression), the reasons as an index into the page's few.
        reasons = sorted(set(suppressed.values()))
        index = {reason: position for position, reason in enumerate(reasons, 2)}
        ids = list(suppressed) + [recipient_of[p] for p in planned]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CampaignRecipient._meta.db_table} AS r "  # noqa: S608 - our own table name
                "SET status = CASE WHEN v.message_id IS NULL THEN %s ELSE %s END, "
                "reason = (%s::text[])[v.reason], planned_at = %s, "
                "message_id = v.message_id "
                "FROM unnest(%s::bigint[], %s::int[], %s::bigint[]) "
                "AS v(id, reason, message_id) "
                # The range lets PostgreSQL read the page's rows by the primary
                # key: without it, it hashed every recipient of the campaign
                # for each page (a tenth of a second per page at 100,000,
                # ten times that at a million).
                "WHERE r.id = v.id AND r.campaign_id = %s AND r.id BETWEEN %s AND %s",
                [
                    str(RecipientStatus.SUPPRESSED),
                    str(RecipientStatus.PLANNED),
                    ["", *map(str, reasons)],
                    now,
                    _array(ids),
                    _array([index[r] for r in suppressed.values()], len(planned) * [1]),
                    _array([None] * len(suppressed), planned.values()),
                    campaign.pk,
                    min(ids),
                    max(ids),
                ],
            )
        return
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    by_reason: dict[str, list[int]] = defaultdict(list)
    for recipient_id, reason in suppressed.items():
        by_reason[reason].append(recipient_id)
    for reason, ids in by_reason.items():
        filter_ids(recipients, ids).update(
            status=RecipientStatus.SUPPRESSED, reason=reason, planned_at=now
        )
    CampaignRecipient.objects.bulk_update(
        [
            CampaignRecipient(
                pk=recipient_of[patient_id],
                status=RecipientStatus.PLANNED,
                planned_at=now,
                message_id=message_id,
            )
            for patient_id, message_id in planned.items()
        ],
        ["status", "planned_at", "message_id"],
        batch_size=500,
    )


def _array(*parts) -> str:
    """A PostgreSQL array literal of integers (None for NULL)."""
    items = (
        "NULL" if value is None else str(int(value)) for part in parts for value in part
    )
    return "{" + ",".join(items) + "}"


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
