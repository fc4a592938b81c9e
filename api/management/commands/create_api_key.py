from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from api.keys import api_key_create
from api.scopes import Scope
from clinic.models import Organization


class Command(BaseCommand):
    help = (
        "Create an API key for a partner system and print it once "
        "(only a hash is stored). Scopes: " + ", ".join(Scope.values)
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="Organization slug.")
        parser.add_argument(
            "--name", required=True, help="Who uses it, e.g. 'EHR sync'."
        )
        parser.add_argument(
            "--scopes",
            required=True,
            help="Comma-separated, e.g. patients:read,messages:send.",
        )
        parser.add_argument(
            "--purposes",
            default=None,
            help="Topic purposes it may send on, comma-separated (care, "
            "marketing, feedback); all three by default.",
        )
        parser.add_argument("--rate-per-minute", type=int, default=None)

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(
                f"No organization with slug {options['organization']!r}."
            )
        try:
            key, raw = api_key_create(
                organization=organization,
                name=options["name"],
                scopes=options["scopes"],
                rate_per_minute=options["rate_per_minute"],
                purposes=options["purposes"],
            )
        except (ValueError, PermissionDenied) as error:
            raise CommandError(str(error)) from error
        self.stderr.write(
            f"Created {key} for {organization.name} with scopes "
            f"{', '.join(key.scopes)}, for topics of purposes "
            f"{', '.join(key.purposes)}. The key is shown once; store it now:"
        )
        self.stdout.write(raw)
