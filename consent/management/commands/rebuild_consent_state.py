from django.core.management.base import BaseCommand, CommandError

from clinic.models import Organization
from consent.services import consent_state_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the current consent state from the ledger and report every "
        "difference found (and fix it, unless --dry-run)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", help="Only this organization (slug).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report differences, change nothing."
        )

    def handle(self, *args, organization=None, dry_run=False, **options) -> None:
        scope = None
        if organization:
            scope = Organization.objects.filter(slug=organization).first()
            if scope is None:
                raise CommandError(f"No organization with slug {organization!r}.")
        differences = consent_state_rebuild(organization=scope, fix=not dry_run)
        for line in differences:
            self.stdout.write(line)
        if not differences:
            self.stdout.write("Consent state matches the ledger.")
        elif dry_run:
            self.stdout.write(f"{len(differences)} differences found; nothing changed.")
        else:
            self.stdout.write(f"{len(differences)} differences found and fixed.")
