"""GDPR rights: export (``export``), erasure (``erase``), objection (``objection``).

Other apps plug their own data in through ``registry``. Nothing is imported
here, so ``from consent.gdpr import registry`` stays cheap inside
``AppConfig.ready()``.
"""

#: Who an access-audit row names when a right was exercised with no actor given.
SYSTEM_LABEL = "Liaison"
