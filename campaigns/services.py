"""Writes on campaigns: the workflow from draft to done (see docs/outreach.md).

draft → awaiting approval → approved → scheduled → sending ⇄ paused → done,
and cancelled from any state before done. Done means nothing is left to send
(``selectors.campaign_is_finished``): a done or cancelled campaign can be
neither paused nor cancelled. Each transition is one function,
in a transaction, that checks who acts and refuses anything out of order
with a ``CampaignError`` whose text staff read in admin.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import locks
from campaigns.audience import audience_count, audience_queryset
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from campaigns.planner import CANCELLED
from clinic.roles import PurposeNotAllowed, purpose_check
from clinic.scoping import staff_organization_id
from consent.services import policy_get
from messaging.content import portal_link
from messaging.models import Delivery, Template
from messaging.rendering import render

Status = CampaignStatus


class CampaignError(ValueError):
    """A campaign action that is not allowed now; the text is for staff."""


def _check_status(campaign: Campaign, *allowed: str) -> None:
    if campaign.status not in allowed:
        raise CampaignError(
            _("Not possible while the campaign is %(status)s.")
            % {"status": campaign.get_status_display().lower()}
        )


def _check_staff(campaign: Campaign, user, permission: str | None = None) -> None:
    if (
        not user.is_superuser
        and staff_organization_id(user) != campaign.organization_id
    ):
        raise CampaignError(_("Only staff of the campaign's organization may do this."))
    if permission and not user.has_perm(permission):
        raise CampaignError(_("You do not have the permission to do this."))


def _check_purpose(campaign: Campaign, user) -> None:
    author = campaign.author if campaign.author_id else None
    campaign_purpose_check(topic=campaign.topic, author=author, user=user)


def campaign_purpose_check(*, topic, author, user) -> None:
    """Raise CampaignError unless both the author and whoever acts may send
    topics of ``topic``'s purpose (clinic.roles.ROLE_PURPOSES): an approver
    cannot let through a campaign its author's role may not send, nor send
    one their own role may not."""
    try:
        purpose_check(user, topic.purpose)
        if author is not None and author.pk != user.pk:
            purpose_check(author, topic.purpose, who=_("The author"))
    except PurposeNotAllowed as refused:
        raise CampaignError(str(refused)) from None


def _locked(campaign: Campaign) -> Campaign:
    """The campaign's row, locked: waits for the pages being planned, then
    wins (no new page starts before this transaction ends)."""
    locks.exclusive(campaign.pk)
    list(Campaign.objects.select_for_update().filter(pk=campaign.pk).values("pk"))
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def campaign_save(*, campaign: Campaign, user) -> Campaign:
    """Validate and save a campaign being written (a draft) by ``user``.

    Raises ValidationError (on ``topic`` when the user's role, or the
    author's, may not send topics of its purpose) or CampaignError."""
    if campaign.pk:
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status != Status.DRAFT:
            raise CampaignError(_("Only a draft can be changed."))
    if campaign.topic_id and campaign.topic.organization_id != campaign.organization_id:
        raise ValidationError(
            {"topic": _("The topic belongs to another organization.")}
        )
    if campaign.site_id and campaign.site.organization_id != campaign.organization_id:
        raise ValidationError({"site": _("The site belongs to another organization.")})
    if campaign.topic_id:
        try:
            _check_purpose(campaign, user)
        except CampaignError as refused:
            raise ValidationError({"topic": str(refused)}) from None
    campaign.full_clean()
    campaign.save()
    return campaign


@transaction.atomic
def campaign_submit(*, campaign: Campaign, user) -> Campaign:
    """Ask a colleague to approve the campaign. An audience that reaches
    nobody is refused with the reason."""
    _check_staff(campaign, user, "campaigns.change_campaign")
    campaign = _locked(campaign)
    _check_status(campaign, Status.DRAFT)
    _check_purpose(campaign, user)
    _check_audience(campaign)
    campaign.status, campaign.submitted_at = Status.AWAITING_APPROVAL, timezone.now()
    campaign.save(update_fields=["status", "submitted_at", "updated_at"])
    return campaign


@transaction.atomic
def campaign_reopen(*, campaign: Campaign, user) -> Campaign:
    """Back to draft, to change it (before it is scheduled)."""
    _check_staff(campaign, user, "campaigns.change_campaign")
    campaign = _locked(campaign)
    _check_status(campaign, Status.AWAITING_APPROVAL, Status.APPROVED)
    campaign.status, campaign.approver, campaign.approved_at = Status.DRAFT, None, None
    campaign.save(update_fields=["status", "approver", "approved_at", "updated_at"])
    return campaign


@transaction.atomic
def campaign_approve(*, campaign: Campaign, user) -> Campaign:
    """Approval by a second staff member: never the author."""
    _check_staff(campaign, user, "campaigns.approve_campaign")
    campaign = _locked(campaign)
    _check_status(campaign, Status.AWAITING_APPROVAL)
    if user.pk == campaign.author_id:
        raise CampaignError(
            _("You wrote this campaign: another staff member must approve it.")
        )
    _check_purpose(campaign, user)
    _check_audience(campaign)
    campaign.status, campaign.approver = Status.APPROVED, user
    campaign.approved_at = timezone.now()
    campaign.save(update_fields=["status", "approver", "approved_at", "updated_at"])
    return campaign


def _check_audience(campaign: Campaign) -> None:
    count = audience_count(campaign)
    if count.problems:
        raise CampaignError(" ".join(count.problems))


def due_times(
    campaign: Campaign, zones: list[str], now: datetime.datetime
) -> dict[str, datetime.datetime]:
    """time zone → when its patients are due (UTC)."""
    if campaign.schedule == Campaign.Schedule.NOW:
        return dict.fromkeys(zones, now)
    if campaign.schedule == Campaign.Schedule.AT:
        return dict.fromkeys(zones, campaign.send_at)
    return {
        zone: datetime.datetime.combine(
            campaign.local_date, campaign.local_time, tzinfo=zoneinfo.ZoneInfo(zone)
        ).astimezone(datetime.UTC)
        for zone in zones
    }


def _check_schedule(campaign: Campaign, due: dict[str, datetime.datetime], now) -> None:
    schedule = campaign.schedule
    if schedule == Campaign.Schedule.AT and campaign.send_at is None:
        raise CampaignError(_("Give the moment to send it."))
    if schedule == Campaign.Schedule.LOCAL and (
        campaign.local_date is None or campaign.local_time is None
    ):
        raise CampaignError(_("Give the local date and time to send it."))
    if schedule == Campaign.Schedule.NOW:
        return
    late = sorted(zone for zone, moment in due.items() if moment < now)
    if late:
        raise CampaignError(
            _("This moment is already past (in %(zones)s): choose a later one.")
            % {"zones": ", ".join(late)}
        )


@transaction.atomic
def campaign_schedule(
    *, campaign: Campaign, user, now: datetime.datetime | None = None
) -> int:
    """Freeze the audience and schedule the send; returns the audience size.

    Each patient gets one ``CampaignRecipient`` row, due at the campaign's
    moment in their own time zone, written by one INSERT … SELECT (nothing
    loaded into memory, whatever the audience). A moment in the past is refused.
    """
    _check_staff(campaign, user, "campaigns.send_campaign")
    now = now or timezone.now()
    campaign = _locked(campaign)
    _check_status(campaign, Status.APPROVED)
    _check_purpose(campaign, user)
    audience = audience_queryset(campaign, today=now.date())
    zones = list(audience.order_by().values_list("time_zone", flat=True).distinct())
    due = due_times(campaign, zones, now)
    _check_schedule(campaign, due, now)
    if not zones:
        raise CampaignError(_("No patient matches these filters any more."))
    added = _recipients_insert(campaign, audience, due, now)
    # Every page reads the sending policy: an organization older than the
    # policy rows gets its own now, not inside the first pages, where
    # planners side by side would each insert it and wait on one another.
    policy_get(organization=campaign.organization)
    campaign.status, campaign.scheduled_at = Status.SCHEDULED, now
    campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
    return added


def _recipients_insert(campaign, audience, due, now) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    columns = audience.order_by().values(member_id=F("pk"), member_zone=F("time_zone"))
    sql, params = columns.query.sql_with_params()
    cases = " ".join("WHEN %s THEN %s" for _ in due)
    case_params = [value for zone, at in due.items() for value in (zone, adapt(at))]
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    statement = (
        f"INSERT INTO {table} (campaign_id, patient_id, status, reason, due_at) "  # noqa: S608 - our own table and compiled query
        f"SELECT %s, audience.member_id, %s, '', CASE audience.member_zone {cases} ELSE %s END "
        # No ON CONFLICT: an approved campaign has no recipient yet and the
        # audience names each patient once; a speculative insert per row
        # would cost a third more.
        f"FROM ({sql}) AS audience WHERE 1 = 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [
                campaign.pk,
                CampaignRecipient.Status.PENDING,
                *case_params,
                adapt(now),
                *list(params),
            ],
        )
        return cursor.rowcount


@transaction.atomic
def campaign_pause(*, campaign: Campaign, user) -> Campaign:
    """Stop planning and hold the deliveries not yet claimed, until resumed.

    A campaign done planning stays sending while deliveries wait (quiet
    hours, retries): pausing it holds them too. A done campaign has nothing
    left to hold, so pausing it is refused."""
    _check_staff(campaign, user, "campaigns.send_campaign")
    campaign = _locked(campaign)
    _check_status(campaign, Status.SCHEDULED, Status.SENDING)
    campaign.status, campaign.paused_at = Status.PAUSED, timezone.now()
    campaign.save(update_fields=["status", "paused_at", "updated_at"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, user) -> Campaign:
    _check_staff(campaign, user, "campaigns.send_campaign")
    campaign = _locked(campaign)
    _check_status(campaign, Status.PAUSED)
    _check_purpose(campaign, user)
    campaign.status = Status.SENDING if campaign.started_at else Status.SCHEDULED
    campaign.paused_at = None
    campaign.save(update_fields=["status", "paused_at", "updated_at"])
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, user) -> int:
    """Cancel: nobody more is planned, and no delivery not yet claimed by a
    worker goes out. Returns how many deliveries were stopped now.

    A delivery a worker claimed before this commits is checked again at claim
    time (``deliveries_still_wanted``): only a provider call already under way
    can still complete.
    """
    _check_staff(campaign, user, "campaigns.send_campaign")
    campaign = _locked(campaign)
    _check_status(
        campaign,
        Status.DRAFT,
        Status.AWAITING_APPROVAL,
        Status.APPROVED,
        Status.SCHEDULED,
        Status.SENDING,
        Status.PAUSED,
        # Not done: nothing is left to stop (``campaign_is_finished``).
    )
    now = timezone.now()
    campaign.status, campaign.cancelled_at = Status.CANCELLED, now
    campaign.save(update_fields=["status", "cancelled_at", "updated_at"])
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    recipients.filter(status=CampaignRecipient.Status.PENDING).update(
        status=CampaignRecipient.Status.CANCELLED, reason=CANCELLED
    )
    return Delivery.objects.filter(
        message__in=recipients.filter(message__isnull=False).values("message_id"),
        status__in=[Delivery.Status.QUEUED, Delivery.Status.DEFERRED],
    ).update(
        status=Delivery.Status.CANCELLED,
        reason=CANCELLED,
        lease_expires_at=None,
        updated_at=now,
    )


def campaign_test_send(*, campaign: Campaign, user) -> str:
    """Send the campaign to the staff member's own email, marked as a test,
    with each channel's text in the organization's language; returns the
    address. No patient, message or delivery row is involved."""
    _check_staff(campaign, user)
    if not user.email:
        raise CampaignError(_("Your account has no email address to send a test to."))
    organization = campaign.organization
    language = organization.default_language
    templates = [
        t
        for t in Template.objects.filter(topic_id=campaign.topic_id)
        if t.language == language
    ] or list(Template.objects.filter(topic_id=campaign.topic_id))
    if not templates:
        raise CampaignError(_("The topic has no template: write one first."))
    context = {
        "patient_first_name": user.first_name or _("Test"),
        "patient_last_name": user.last_name or _("Recipient"),
        "organization_name": organization.name,
        "portal_link": portal_link(),
    }
    with translation.override(language):
        parts = [
            _(
                "TEST — this is a test of the campaign “%(name)s”. "
                "No patient received it."
            )
            % {"name": campaign.name}
        ]
        subject = ""
        for template in templates:
            text = render(template.body, context)
            if template.channel == "email":
                subject = render(template.subject, context)
            parts.append(
                f"--- {template.get_channel_display()} ({template.language}) ---\n{text}"
            )
        subject = _("[TEST] %(subject)s") % {"subject": subject or campaign.name}
    EmailMessage(subject=subject, body="\n\n".join(parts), to=[user.email]).send()
    return user.email
