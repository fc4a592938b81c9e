"""Settings for the test suite: the real settings, with fast and local parts pinned.

DATABASE_URL and REDIS_URL still apply, so CI runs the same suite on SQLite and
on PostgreSQL + Redis.
"""

import os
import uuid

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Each run gets its own Redis key space, so parallel runs never see each other;
# so does each pytest-xdist worker, which inherits the controller's environment.
_run = uuid.uuid4().hex[:8]
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
for _name in ("CACHE_KEY_PREFIX", "CHANNEL_LAYER_PREFIX"):
    _prefix = os.environ.get(_name, f"liaison-test-{_run}")
    os.environ[_name] = f"{_prefix}-{_worker}" if _worker else _prefix

from config.settings import *  # noqa: E402, F403
from config.settings import Q_CLUSTER  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
MESSAGING_BACKENDS = {
    "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
    "email": {"BACKEND": "messaging.backends.email.Backend"},  # → locmem mail
    "sms": {"BACKEND": "messaging.backends.locmem.Backend"},
    "voice": {"BACKEND": "messaging.backends.locmem.Backend"},
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the finders; tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
SILENCED_SYSTEM_CHECKS = ["messaging.W001"]  # tests use the locmem backends on purpose
# A fixed key, so stored provider secrets can be written and read back.
CREDENTIALS_KEY = ["bGlhaXNvbi10ZXN0LWNyZWRlbnRpYWxzLWtleSEzMmI="]
# Webhook receivers in tests are local HTTP servers (pytest-httpserver).
WEBHOOKS_ALLOW_PRIVATE = True
