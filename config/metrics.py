"""``/metrics``: Prometheus's view of Liaison, for the operators' monitoring.

Protected like an internal service: a request needs the bearer token
``METRICS_TOKEN``, or a client address in ``METRICS_NETWORKS`` (CIDR); without
either configured the endpoint answers 404, so it is never public by
accident. Deploy's example alert rules (deploy/prometheus/alerts.yml) read
these series.

Two kinds of series:

- read from the database at scrape time (``PipelineCollector``): deliveries by
  channel and status, the queue's depth and the age of its oldest due
  delivery, leases that expired with their work unfinished, the scheduler's
  lag, the django-q2 queue, webhooks waiting for a retry. Every process on
  every host gives the same figures, so scrape any one web process behind the
  load balancer.
- recorded by the processes that do the work (``messaging.metrics``: provider
  latency and errors), added up across processes on a host through
  ``PROMETHEUS_MULTIPROC_DIR``: scrape each host.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

import messaging.metrics  # noqa: F401 - registers the provider series
from core.client_address import client_ip

WAITING = ("queued", "deferred")


def _seconds_since(moment) -> float:
    return max(0.0, (timezone.now() - moment).total_seconds()) if moment else 0.0


class PipelineCollector:
    """The pipeline's state, read from the database at each scrape."""

    def collect(self):
        from django_q.models import OrmQ, Schedule

        from api.models import WebhookDelivery
        from insights.models import DeliveryDayCount
        from messaging.models import Delivery

        now = timezone.now()
        by_status = GaugeMetricFamily(
            "liaison_deliveries",
            "Deliveries by channel and status (every delivery ever made).",
            labels=["channel", "status"],
        )
        if connection.vendor == "postgresql":
            # Kept by triggers (insights.day_counts): no scan of the big table.
            rows = DeliveryDayCount.objects.values("channel", "status").annotate(
                n=Sum("deliveries")
            )
        else:
            rows = Delivery.objects.values("channel", "status").annotate(n=Count("pk"))
        for row in rows.order_by("channel", "status"):
            by_status.add_metric([row["channel"], row["status"]], row["n"] or 0)
        yield by_status

        due = Delivery.objects.filter(status__in=WAITING, next_attempt_at__lte=now)
        queue = due.aggregate(depth=Count("pk"), oldest=Min("next_attempt_at"))
        yield GaugeMetricFamily(
            "liaison_delivery_queue_depth",
            "Deliveries due now and not yet taken by a worker.",
            value=queue["depth"],
        )
        yield GaugeMetricFamily(
            "liaison_delivery_queue_oldest_seconds",
            "How long the oldest due delivery has waited for a worker.",
            value=_seconds_since(queue["oldest"]),
        )
        yield GaugeMetricFamily(
            "liaison_delivery_leases_expired",
            "Deliveries a worker claimed and did not finish before its lease ran out "
            "(the worker died or hung); they are taken again.",
            value=Delivery.objects.filter(
                status="sending", lease_expires_at__lt=now
            ).count(),
        )

        # repeats: -1 for ever, n runs left, 0 done.
        active = Schedule.objects.exclude(repeats=0)
        oldest_run = active.filter(next_run__lt=now).aggregate(oldest=Min("next_run"))
        yield GaugeMetricFamily(
            "liaison_scheduler_lag_seconds",
            "How far behind its time the most overdue scheduled job is (0 on time).",
            value=_seconds_since(oldest_run["oldest"]),
        )
        yield GaugeMetricFamily(
            "liaison_task_queue_depth",
            "Tasks in the django-q2 queue (PostgreSQL), waiting or being worked.",
            value=OrmQ.objects.count(),
        )
        retrying = WebhookDelivery.objects.filter(status="pending", attempts__gt=0)
        yield GaugeMetricFamily(
            "liaison_webhook_retries_pending",
            "Webhook deliveries that failed at least once and wait for a retry.",
            value=retrying.count(),
        )


def _exposition() -> bytes:
    """The pipeline's series, then the processes' own (provider latency,
    Python's): added up over the host's processes in multiprocess mode, this
    process's otherwise."""
    pipeline = CollectorRegistry(auto_describe=True)
    pipeline.register(PipelineCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = PROCESS_REGISTRY
    return generate_latest(pipeline) + generate_latest(processes)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    address = client_ip(request)
    if settings.METRICS_NETWORKS and address:
        ip = ipaddress.ip_address(address)
        return any(
            ip in ipaddress.ip_network(network, strict=False)
            for network in settings.METRICS_NETWORKS
        )
    return False


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        raise Http404  # not "forbidden": the endpoint is not advertised
    return HttpResponse(_exposition(), content_type=CONTENT_TYPE_LATEST)
