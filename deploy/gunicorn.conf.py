"""gunicorn for Liaison's pages, admin and API (WSGI); /ws/ goes to daphne.

Read by deploy/systemd/liaison-web.service and by scripts/topology.py:
``gunicorn --config deploy/gunicorn.conf.py``. Every value can be set from the
environment file (/etc/liaison/liaison.env), so hosts differ only there.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"

# Where nginx reaches this host (deploy/nginx/liaison.conf, upstream liaison_web):
# the loopback when nginx runs here, the private address when it runs elsewhere.
bind = os.environ.get("LIAISON_WEB_BIND", "127.0.0.1:8001").split(",")

# Sync workers: a request holds one process, and its time is mostly
# PostgreSQL round trips (docs/deploy.md, "Sizing"). Two per core plus one
# keeps the cores busy while others wait on the database.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A request that takes longer than this is a bug or a stuck dependency: the
# worker is replaced, the proxy answers 502, and the pool does not drain.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
# nginx keeps connections to the upstream open (keepalive 32).
keepalive = 75
# Recycle workers now and then: bounded memory growth, staggered.
max_requests = 5000
max_requests_jitter = 500

# Requests come from nginx only; these limits mirror its own.
limit_request_line = 8190
limit_request_fields = 100

# The client address is read from X-Forwarded-For by the application
# (core/client_address.py, TRUSTED_PROXIES), and the scheme from
# X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER); gunicorn itself trusts the
# proxy's headers only from these addresses.
forwarded_allow_ips = os.environ.get("LIAISON_PROXY_ADDRESSES", "127.0.0.1")

# nginx writes the access log (without query strings); gunicorn only errors,
# to the journal.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The master's name in ps and the journal.
proc_name = "liaison-web"
# systemd reloads and stops gunicorn (signals); no control socket, which would
# want a writable home directory the unit does not give.
control_socket_disable = True
