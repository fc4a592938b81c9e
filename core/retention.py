"""Storage limitation (GDPR art. 5(1)(e)): rows past their data class's
retention period are deleted, in small batches, by a nightly job.

Each app registers its data classes from its ``AppConfig.ready()``
(``retention_register``): a name, the queryset of rows older than a moment,
and the default period. ``settings.RETENTION_DAYS`` overrides any period per
class (docs/deploy.md, "Retention", says what each class holds and why its
default is what it is). The consent ledger is not registered: it is the proof
of consent and is kept with the patient's record (docs/consent.md).

Batches are deleted by primary key, each in its own transaction, so no lock is
held longer than one batch and a purge stopped halfway leaves nothing
half-deleted; the next night goes on where it stopped.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class DataClass:
    name: str
    description: str
    default_days: int
    expired: Callable[[datetime.datetime], QuerySet]  # rows older than the moment

    @property
    def days(self) -> int:
        return int(
            getattr(settings, "RETENTION_DAYS", {}).get(self.name, self.default_days)
        )


_classes: dict[str, DataClass] = {}


def retention_register(
    name: str,
    *,
    description: str,
    default_days: int,
    expired: Callable[[datetime.datetime], QuerySet],
) -> None:
    _classes[name] = DataClass(name, description, default_days, expired)


def retention_classes() -> list[DataClass]:
    return sorted(_classes.values(), key=lambda data_class: data_class.name)


def purge_class(
    data_class: DataClass,
    *,
    now: datetime.datetime | None = None,
    batch: int = BATCH,
    deadline: float | None = None,
) -> int:
    """Delete the class's rows older than its period; return how many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=data_class.days)
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        with transaction.atomic():
            queryset = data_class.expired(cutoff)
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
            if not ids:
                break
            # Cascades (a message's deliveries) go with their rows.
            queryset.model._base_manager.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted


def purge_expired(
    *, now: datetime.datetime | None = None, batch: int = BATCH, seconds: float = 1800
) -> dict[str, int]:
    """Every class, within ``seconds``; class name → rows deleted."""
    deadline = time.monotonic() + seconds
    counts = {}
    for data_class in retention_classes():
        counts[data_class.name] = purge_class(
            data_class, now=now, batch=batch, deadline=deadline
        )
        logger.info(
            "retention: %s purged",
            data_class.name,
            extra={"data_class": data_class.name, "deleted": counts[data_class.name]},
        )
    return counts
