"""Demo surveys (called by seed_demo after consent and messaging made the
topics); idempotent: looked up by name. The first patients answer, one of
them unhappy, so the follow-up and the dashboard have something to show.

Names only staff read (the survey's, the team's) are in the clinic's
language; what patients read (titles, questions) is in both."""

from django.utils import timezone

from clinic.demo_data import demo_row_named
from clinic.models import Organization, Patient, Team
from consent.models import Topic
from feedback.models import ImprovementNote, Question, Survey, SurveyInvitation
from feedback.services import response_submit, survey_invite
from messaging.models import Template

SURVEY_NAMES = {"fr": "Après votre visite", "en": "After your visit"}
TEAM_NAMES = {"fr": "Relations patients", "en": "Patient relations"}
TEMPLATES = {
    ("inapp", "fr"): (
        "Votre avis sur votre visite",
        "Comment s’est passée votre visite ? Répondez en une minute : {{ survey_link }}",
    ),
    ("inapp", "en"): (
        "Your opinion on your visit",
        "How was your visit? Answer in one minute: {{ survey_link }}",
    ),
    ("email", "fr"): (
        "Votre avis sur votre visite",
        "Bonjour {{ patient_first_name }},\n\nComment s’est passée votre visite chez {{ organization_name }} ? Répondez en une minute : {{ survey_link }}",
    ),
    ("email", "en"): (
        "Your opinion on your visit",
        "Hello {{ patient_first_name }},\n\nHow was your visit to {{ organization_name }}? Answer in one minute: {{ survey_link }}",
    ),
    ("sms", "fr"): (
        "",
        "{{ organization_name }} : votre avis sur votre visite ? {{ survey_link }}",
    ),
    ("sms", "en"): (
        "",
        "{{ organization_name }}: how was your visit? {{ survey_link }}",
    ),
}
QUESTIONS = [
    (
        "nps",
        "Recommanderiez-vous la clinique à un proche ?",
        "Would you recommend the clinic to a friend?",
        [],
        True,
    ),
    (
        "csat",
        "Êtes-vous satisfait de l’accueil ?",
        "Were you satisfied with the welcome?",
        [],
        False,
    ),
    (
        "multiple",
        "Qu’avez-vous apprécié ?",
        "What did you like?",
        [
            {"value": "welcome", "fr": "L’accueil", "en": "The welcome"},
            {"value": "punctuality", "fr": "La ponctualité", "en": "Punctuality"},
            {
                "value": "explanations",
                "fr": "Les explications",
                "en": "The explanations",
            },
        ],
        False,
    ),
    (
        "text",
        "Un mot pour nous aider à progresser ?",
        "Anything that would help us improve?",
        [],
        False,
    ),
]


def seed(*, report) -> None:
    from clinic.demo_data import ORGANIZATIONS

    for organization in Organization.objects.filter(
        slug__in=[o.slug for o in ORGANIZATIONS]
    ):
        topic = (
            Topic.objects.for_organization(organization).filter(slug="surveys").first()
        )
        if topic is None:
            continue
        for (channel, language), (subject, body) in TEMPLATES.items():
            _, created = Template.objects.get_or_create(
                topic=topic,
                channel=channel,
                language=language,
                defaults={"subject": subject, "body": body},
            )
            report.count("templates", created)
        language = organization.default_language
        team = demo_row_named(
            Team.objects.for_organization(organization), TEAM_NAMES, language
        )
        report.count("teams", team is None)
        if team is None:
            Team.objects.create(
                organization=organization,
                name=TEAM_NAMES[language],
                handles_feedback=True,
            )
        survey = demo_row_named(
            Survey.objects.for_organization(organization), SURVEY_NAMES, language
        )
        created = survey is None
        report.count("surveys", created)
        if created:
            survey = Survey.objects.create(
                organization=organization,
                name=SURVEY_NAMES[language],
                title_fr="Votre avis sur votre visite",
                title_en="Your opinion on your visit",
                intro_fr="Quatre questions, une minute. Merci !",
                intro_en="Four questions, one minute. Thank you!",
                topic=topic,
                trigger=Survey.Trigger.APPOINTMENT_FULFILLED,
                trigger_delay_hours=2,
            )
        if created:
            for position, (kind, text_fr, text_en, choices, required) in enumerate(
                QUESTIONS
            ):
                Question.objects.create(
                    survey=survey,
                    position=position,
                    kind=kind,
                    text_fr=text_fr,
                    text_en=text_en,
                    choices=choices,
                    required=required,
                )
        _, created = ImprovementNote.objects.get_or_create(
            organization=organization,
            we_did_en="Reminders now come two days before, not one.",
            defaults={
                "you_said_fr": "Le rappel la veille arrive trop tard pour s’organiser.",
                "you_said_en": "A reminder the day before comes too late to get organised.",
                "we_did_fr": "Les rappels arrivent désormais deux jours avant.",
                "published_at": timezone.now(),
            },
        )
        report.count("you-said-we-did notes", created)
        _demo_answers(survey)


def _demo_answers(survey: Survey) -> None:
    """Two patients answered: one happy, one not (who gets a follow-up)."""
    if SurveyInvitation.objects.filter(
        survey=survey, trigger_ref__startswith="demo:"
    ).exists():
        return
    questions = {q.kind: q for q in survey.questions.all()}
    patients = Patient.objects.for_organization(survey.organization_id).order_by(
        "identifier"
    )[4:6]
    unhappy = {"fr": "Longue attente à l’accueil.", "en": "Long wait at the desk."}
    for patient, (nps, csat, text) in zip(
        patients, [(10, 5, {}), (4, 2, unhappy)], strict=False
    ):
        text = text.get(patient.preferred_language, "")
        invitation = survey_invite(
            survey=survey, patient=patient, trigger_ref=f"demo:{patient.pk}"
        )
        response_submit(
            invitation=invitation,
            answers={
                questions["nps"].pk: nps,
                questions["csat"].pk: csat,
                questions["multiple"].pk: ["welcome"],
                questions["text"].pk: text,
            },
        )
