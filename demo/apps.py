from django.apps import AppConfig


class DemoConfig(AppConfig):
    """No models: an app for its ``seed_demo`` command."""

    name = "demo"
