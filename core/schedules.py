"""The periodic jobs (django-q2 schedules) the apps rely on, present after every
``migrate`` and every ``flush``.

The migrations that first created them are history; a schedule row is data, and
``manage.py flush`` (or a test database reset between transactional tests)
deletes it while leaving the migrations applied, so the scheduler would silently
never run again. Django emits ``post_migrate`` after both commands, so each app
declares its jobs here and a missing one is put back. An existing row is left as
it is: an operator who changed its interval keeps the change.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def every_minute(func: str) -> dict:
    return {"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1}


def schedules_keep(app_config: AppConfig, jobs: dict[str, dict]) -> None:
    """Restore ``jobs`` (name → Schedule fields) after ``app_config`` migrates."""

    # flush sends no ``apps`` (migrate sends its final project state).
    def restore(*, using: str, apps=global_apps, **kwargs) -> None:
        try:
            schedule = apps.get_model("django_q", "Schedule")
        except LookupError:  # django_q not migrated yet (a partial migrate)
            return
        for name, fields in jobs.items():
            schedule.objects.using(using).get_or_create(name=name, defaults=fields)

    post_migrate.connect(
        restore,
        sender=app_config,
        weak=False,
        dispatch_uid=f"{app_config.label}.schedules:{','.join(sorted(jobs))}",
    )
