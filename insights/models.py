"""The dashboard has no table of its own: this model only carries its admin
entry and the permission that opens it (``insights.view_dashboard``)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dashboard(models.Model):
    class Meta:
        managed = False  # no table: the figures are read from the domain apps
        default_permissions = ("view",)
        verbose_name = _("KPI dashboard")
        verbose_name_plural = _("KPI dashboard")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
