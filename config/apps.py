from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's own wiring (no models): request ids into tasks."""

    name = "config"
    verbose_name = "Liaison"

    def ready(self) -> None:
        from django_q.signals import pre_enqueue, pre_execute

        from config.request_context import task_enqueued, task_starting

        pre_enqueue.connect(task_enqueued, dispatch_uid="liaison-request-id-enqueue")
        pre_execute.connect(task_starting, dispatch_uid="liaison-request-id-execute")
