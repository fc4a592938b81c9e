"""The four jobs a message does (a topic's purpose): care, marketing, security,
feedback.

Here rather than in consent, which gives each its rules, because clinic's roles
say which purposes each staff role may send to many patients
(``clinic.roles.ROLE_PURPOSES``) and clinic imports no app above it.
``consent.vocabulary`` names it among the other words of consent.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    CARE = "care", _("Care")
    MARKETING = "marketing", _("Health campaigns and news")
    SECURITY = "security", _("Security")
    FEEDBACK = "feedback", _("Feedback and surveys")
