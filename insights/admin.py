"""The KPI dashboard's place in admin: the "KPI dashboard" entry opens the page.

The model has no table; its admin replaces the list, add and change pages with
the dashboard, its drill-downs and CSV exports, all behind
``insights.view_dashboard`` (granted by role in ``clinic/roles.py``).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import path

from insights import views
from insights.models import Dashboard
from messaging.admin import ReadOnlyMixin


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyMixin, admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest):
        return Dashboard.objects.none()  # no table behind the model

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("", wrap(self.dashboard_view), name="insights_dashboard_changelist"),
            path("export.csv", wrap(self.figures_csv), name="insights_dashboard_csv"),
            path(
                "rows/<str:key>/", wrap(self.rows_view), name="insights_dashboard_rows"
            ),
            path(
                "rows/<str:key>/export.csv",
                wrap(self.rows_csv),
                name="insights_dashboard_rows_csv",
            ),
        ]

    def _check(self, request: HttpRequest) -> dict:
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "media": self.media,
        }

    def dashboard_view(self, request: HttpRequest):
        return views.dashboard(request, self._check(request))

    def rows_view(self, request: HttpRequest, key: str):
        return views.rows(request, key, self._check(request))

    def figures_csv(self, request: HttpRequest):
        self._check(request)
        return views.figures_csv(request)

    def rows_csv(self, request: HttpRequest, key: str):
        self._check(request)
        return views.rows_csv(request, key)
