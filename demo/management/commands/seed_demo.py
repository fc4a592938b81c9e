from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.demo_data import DEMO_PASSWORD, demo_logins
from demo.seed import seed_demo


class Command(BaseCommand):
    help = "Load the demo organizations, staff, patients and appointments (idempotent)."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates accounts with published passwords; it runs only "
                "with DEBUG=true."
            )
        report = seed_demo()
        summary = ", ".join(f"{n} {label}" for label, n in report.created.items())
        self.stdout.write(f"Demo data ready (created now: {summary}).")
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for username, description in demo_logins():
            self.stdout.write(f"  {username:<24} {description}")
