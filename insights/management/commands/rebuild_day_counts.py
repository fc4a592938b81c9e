from django.core.management.base import BaseCommand, CommandError

from insights import day_counts


class Command(BaseCommand):
    help = (
        "Compare the dashboard's per-day message and delivery counts with the "
        "rows, report every difference, and count everything again (unless "
        "--dry-run). Needed only after rows were written with the triggers "
        "disabled (a restore with --disable-triggers, say)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report differences, change nothing."
        )

    def handle(self, *args, dry_run=False, **options) -> None:
        if not day_counts.kept():
            raise CommandError(
                "This database keeps no per-day counts (PostgreSQL only): "
                "the dashboard counts from the rows."
            )
        found = day_counts.differences()
        for line in found:
            self.stdout.write(line)
        if not found:
            self.stdout.write("The per-day counts match the rows.")
        elif dry_run:
            self.stdout.write(f"{len(found)} differences found; nothing changed.")
        else:
            day_counts.rebuild()
            self.stdout.write(f"{len(found)} differences found; counted again.")
