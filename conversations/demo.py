"""The desk's demo data: saved replies in each demo clinic (``seed_demo``
finds this module like the other apps' ``demo`` modules)."""

from clinic.models import Organization
from conversations.models import SavedReply

SAVED_REPLIES = [
    (
        "Rendez-vous confirmé",
        "fr",
        "Bonjour {{ patient_first_name }}, c’est noté : nous vous attendons. "
        "{{ organization_name }}",
    ),
    (
        "Appointment noted",
        "en",
        "Hello {{ patient_first_name }}, noted: we look forward to seeing you. "
        "{{ organization_name }}",
    ),
]


def seed(*, report) -> None:
    from clinic.demo_data import ORGANIZATIONS

    slugs = [o.slug for o in ORGANIZATIONS]
    for organization in Organization.objects.filter(slug__in=slugs):
        for title, language, body in SAVED_REPLIES:
            _, created = SavedReply.objects.get_or_create(
                organization=organization,
                title=title,
                language=language,
                defaults={"body": body},
            )
            report.count("saved replies", created)
