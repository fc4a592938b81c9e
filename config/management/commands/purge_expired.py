"""``manage.py purge_expired``: the nightly retention purge, by hand."""

import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from core.retention import purge_expired, retention_classes


class Command(BaseCommand):
    help = "Delete rows past their data class's retention period (core.retention)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would go; delete nothing.",
        )
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args, dry_run: bool, batch: int, **options):
        if batch < 1:
            self.stderr.write("--batch must be at least 1.")
            raise SystemExit(2)
        if dry_run:
            for data_class in retention_classes():
                cutoff = timezone.now() - datetime.timedelta(days=data_class.days)
                count = data_class.expired(cutoff).count()
                self.stdout.write(
                    f"{data_class.name}: {count} past {data_class.days} days"
                )
            return
        for name, deleted in purge_expired(batch=batch).items():
            self.stdout.write(f"{name}: {deleted} deleted")
