"""The dashboard's own tables: per-day counts of messages and deliveries kept
by PostgreSQL triggers (migration 0002, docs/insights.md), and the model that
only carries the dashboard's admin entry and permission."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization
from consent.models import Topic


class Dashboard(models.Model):
    class Meta:
        managed = False  # no table: the figures are read from the domain apps
        default_permissions = ("view",)
        verbose_name = _("KPI dashboard")
        verbose_name_plural = _("KPI dashboard")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class DayCount(models.Model):
    """Rows are signed changes, not totals: a trigger adds one row per group a
    statement changed (+ for rows written or moved in, - for rows deleted or
    moved out), so concurrent writers never wait on a shared counter;
    ``insights.day_counts.compact`` folds a group's rows into one. A group's
    figure is the sum of its rows.

    ``organization`` and ``topic`` are plain copies, without constraints: the
    rows are written by triggers inside the writers' statements, and a
    cascade that deletes messages writes rows after Django collected what to
    delete."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    day = models.DateField()  # of the message's creation, in UTC
    # False for a trigger's change, True for a row ``compact`` wrote.
    compacted = models.BooleanField(default=False)

    class Meta:
        abstract = True


class MessageDayCount(DayCount):
    """Outbound messages created on ``day`` for ``topic``: how many, how many read."""

    topic = models.ForeignKey(
        Topic,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    sent = models.BigIntegerField()
    read = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "day"], name="insights_message_day_org"
            ),
            models.Index(
                fields=["organization", "day", "topic"],
                condition=models.Q(compacted=False),
                name="insights_message_day_fresh",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.day} topic {self.topic_id}: {self.sent:+} sent, {self.read:+} read"
        )


class DeliveryDayCount(DayCount):
    """Deliveries of the messages created on ``day``, per channel and status."""

    channel = models.CharField(max_length=8)
    status = models.CharField(max_length=16)
    deliveries = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "day"], name="insights_delivery_day_org"
            ),
            models.Index(
                fields=["organization", "day", "channel", "status"],
                condition=models.Q(compacted=False),
                name="insights_delivery_day_fresh",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.status}: {self.deliveries:+}"
