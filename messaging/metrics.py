"""The send pipeline's own Prometheus series, recorded where things happen.

Only what a scrape cannot read back from the database lives here: provider
latency and errors, measured around each provider call. Counts of deliveries,
queue depth and age, expired leases, scheduler lag and webhook retries are
read from the database at scrape time (``config.metrics``), so every process
on every host agrees on them.

Under gunicorn and django-q2, several processes record: with
``PROMETHEUS_MULTIPROC_DIR`` set (docs/deploy.md, "Metrics"), prometheus-client
keeps each process's values in files there and ``/metrics`` adds them up.
Labels are provider names, operations and error codes: never an address, a
patient or a message.
"""

from prometheus_client import Counter, Histogram

PROVIDER_LATENCY = Histogram(
    "liaison_provider_request_seconds",
    "Time a provider took to answer one request (sends, status checks).",
    ["provider", "operation"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PROVIDER_ERRORS = Counter(
    "liaison_provider_errors_total",
    "Provider requests that failed: no connection, no answer, or an error status.",
    ["provider", "operation", "code"],
)
