from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's own wiring (no models): request ids into tasks."""

    name = "config"
    verbose_name = "Liaison"

    def ready(self) -> None:
        from django_q.signals import pre_enqueue, pre_execute

        from config.request_context import task_enqueued, task_starting
        from core.retention import retention_register

        pre_enqueue.connect(task_enqueued, dispatch_uid="liaison-request-id-enqueue")
        pre_execute.connect(task_starting, dispatch_uid="liaison-request-id-execute")
        # django-q2's own task results are a data class of the nightly purge.
        from django_q.models import Task

        retention_register(
            "task_results",
            description="django-q2's record of finished tasks (ids and outcomes).",
            default_days=30,
            expired=lambda before: Task.objects.filter(stopped__lt=before),
        )
