"""Demo templates for the demo topics, and a few messages sent through the
pipeline (called by seed_demo; idempotent through idempotency keys)."""

from clinic.models import Organization
from consent.models import Topic
from messaging.models import SavedReply, SenderIdentity, SenderProvider, Template

# topic slug -> channel -> language -> (subject, body, sensitivity)
TEMPLATES = {
    "appointment-reminders": {
        "inapp": {
            "fr": (
                "Rappel de rendez-vous",
                "Bonjour {{ patient_first_name }}, nous vous attendons le {{ appointment_date }} à {{ appointment_time }} ({{ site_name }}).",
            ),
            "en": (
                "Appointment reminder",
                "Hello {{ patient_first_name }}, we expect you on {{ appointment_date }} at {{ appointment_time }} ({{ site_name }}).",
            ),
        },
        "sms": {
            "fr": (
                "",
                "{{ organization_name }} : RDV le {{ appointment_date }} à {{ appointment_time }}, {{ site_name }}. Répondez C pour confirmer, A pour annuler. {{ confirm_link }}",
            ),
            "en": (
                "",
                "{{ organization_name }}: appointment on {{ appointment_date }} at {{ appointment_time }}, {{ site_name }}. Reply C to confirm, A to cancel. {{ confirm_link }}",
            ),
        },
        "email": {
            "fr": (
                "Votre rendez-vous du {{ appointment_date }}",
                "Bonjour {{ patient_first_name }},\n\nNous vous attendons le {{ appointment_date }} à {{ appointment_time }} ({{ site_name }}).\n\n{{ organization_name }}",
            ),
            "en": (
                "Your appointment on {{ appointment_date }}",
                "Hello {{ patient_first_name }},\n\nWe expect you on {{ appointment_date }} at {{ appointment_time }} ({{ site_name }}).\n\n{{ organization_name }}",
            ),
        },
    },
    "results-available": {
        "inapp": {
            "fr": (
                "Vos résultats",
                "Bonjour {{ patient_first_name }}, votre résultat « {{ result_name }} » est disponible. Votre médecin en parlera avec vous.",
            ),
            "en": (
                "Your results",
                "Hello {{ patient_first_name }}, your result “{{ result_name }}” is available. Your doctor will discuss it with you.",
            ),
        },
    },
    "newsletter": {
        "inapp": {
            "fr": (
                "Conseils de saison",
                "{{ organization_name }} : pensez à votre vaccin contre la grippe cet automne.",
            ),
            "en": (
                "Seasonal tips",
                "{{ organization_name }}: remember your flu shot this autumn.",
            ),
        },
        "email": {
            "fr": (
                "Conseils de saison",
                "{{ organization_name }} : pensez à votre vaccin contre la grippe cet automne.",
            ),
            "en": (
                "Seasonal tips",
                "{{ organization_name }}: remember your flu shot this autumn.",
            ),
        },
    },
}
CONFIDENTIAL = {"results-available"}


def seed(*, report) -> None:
    from clinic.demo_data import ORGANIZATIONS

    numbers = {o.slug: o.sender_number for o in ORGANIZATIONS}
    for organization in Organization.objects.filter(slug__in=list(numbers)):
        for provider in SenderProvider.values:
            # In development SMS go to the outbox; with SMS_BACKEND set to a
            # provider, each demo clinic still sends from its own number.
            _, created = SenderIdentity.objects.get_or_create(
                organization=organization,
                provider=provider,
                defaults={"phone_number": numbers[organization.slug]},
            )
            report.count("sender identities", created)
        topics = {t.slug: t for t in Topic.objects.for_organization(organization)}
        for slug, channels in TEMPLATES.items():
            for channel, languages in channels.items():
                for language, (subject, body) in languages.items():
                    _, created = Template.objects.get_or_create(
                        topic=topics[slug],
                        channel=channel,
                        language=language,
                        defaults={
                            "subject": subject,
                            "body": body,
                            "sensitivity": "confidential"
                            if slug in CONFIDENTIAL
                            else "public",
                        },
                    )
                    report.count("templates", created)
        for title, language, body in SAVED_REPLIES:
            _, created = SavedReply.objects.get_or_create(
                organization=organization,
                title=title,
                language=language,
                defaults={"body": body},
            )
            report.count("saved replies", created)


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
