from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from messaging.credentials import secrets_rotate


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret (provider tokens, webhook signing secrets) "
        "again under the first key of CREDENTIALS_KEY (after putting a new key "
        "first; then drop the old one)."
    )

    def handle(self, *args, **options) -> None:
        try:
            count = secrets_rotate()
        except ImproperlyConfigured as exc:
            raise CommandError(f"{exc}: nothing was changed.") from exc
        self.stdout.write(f"{count} stored secret(s) encrypted under the first key.")
