"""A demo API key per demo organization, with a published secret like the demo
passwords (seed_demo runs only with DEBUG=true); idempotent."""

from api.keys import KEY_PREFIX, KEY_PURPOSES, _hash
from api.models import ApiKey
from api.scopes import Scope
from clinic.demo_data import demo_row_named
from clinic.models import Organization


def demo_key(slug: str) -> str:
    """The demo secret of an organization: ``lsn_demo-<slug>``."""
    return f"{KEY_PREFIX}demo-{slug}"


def seed(*, report) -> None:
    from clinic.demo_data import ORGANIZATIONS

    for organization in Organization.objects.filter(
        slug__in=[o.slug for o in ORGANIZATIONS]
    ):
        raw = demo_key(organization.slug)
        names = {"fr": "Partenaire de démonstration", "en": "Demo partner"}
        language = organization.default_language
        # Found by its secret; named in the clinic's language (staff read it).
        demo_row_named(ApiKey.objects.filter(key_hash=_hash(raw)), names, language)
        _, created = ApiKey.objects.get_or_create(
            key_hash=_hash(raw),
            defaults={
                "organization": organization,
                "name": names[language],
                "prefix": raw[: len(KEY_PREFIX) + 12],
                "scopes": sorted(Scope.values),
                "purposes": sorted(KEY_PURPOSES),
            },
        )
        report.count("API keys", created)
