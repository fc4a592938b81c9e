"""Templates refuse unknown variables and keep health data in the secure inbox."""

import pytest

from django.core.exceptions import ValidationError
from django.utils import translation

from conversations.models import SavedReply
from messaging.rendering import render, sms_segments
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db


def test_unknown_variable_is_refused_at_save_time(organization):
    template = TemplateFactory.build(
        topic=TopicFactory(organization=organization), body="Hello {{ first_name }}"
    )
    with pytest.raises(ValidationError, match="Unknown variable: first_name"):
        template.full_clean()


def test_tags_and_filters_are_refused(organization):
    template = TemplateFactory.build(
        topic=TopicFactory(organization=organization),
        body="{% if x %}{{ patient_first_name|upper }}{% endif %}",
    )
    with pytest.raises(ValidationError, match=r"Only \{\{ variable \}\} placeholders"):
        template.full_clean()


@pytest.mark.parametrize("channel", ["sms", "email", "voice"])
def test_public_template_with_clinical_variable_is_refused_naming_it(
    organization, channel
):
    template = TemplateFactory.build(
        topic=TopicFactory(organization=organization),
        channel=channel,
        body="Your {{ result_name }} is ready",
    )
    with pytest.raises(ValidationError, match="result_name is clinical"):
        template.full_clean()


def test_clinical_variable_is_fine_in_app_or_confidential(organization):
    topic = TopicFactory(organization=organization)
    TemplateFactory.build(
        topic=topic, channel="inapp", body="{{ diagnosis }}"
    ).full_clean()
    TemplateFactory.build(
        topic=topic, channel="sms", sensitivity="confidential", body="{{ diagnosis }}"
    ).full_clean()


def test_rendering_escapes_html_and_refuses_objects():
    assert render(
        "<p>{{ patient_first_name }}</p>",
        {"patient_first_name": "<b>Zoé</b>"},
        html=True,
    ) == ("<p>&lt;b&gt;Zoé&lt;/b&gt;</p>")
    with pytest.raises(TypeError, match="plain text"):
        render("{{ patient_first_name }}", {"patient_first_name": object()})


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice
        ("Rendez-vous confirmé 👍", "UCS-2", 1),
        ("ô" * 71, "UCS-2", 2),
    ],
)
def test_sms_segments(text, encoding, segments):
    counted = sms_segments(text)
    assert (counted["encoding"], counted["segments"]) == (encoding, segments)


@pytest.mark.parametrize("channel", ["sms", "voice"])
def test_a_template_asking_for_cancel_to_cancel_is_refused(organization, channel):
    """Carriers read CANCEL as STOP: the patient who obeys would be unsubscribed."""
    # given
    template = TemplateFactory.build(
        topic=TopicFactory(organization=organization),
        channel=channel,
        language="en",
        body="{{ organization_name }}: see you {{ appointment_date }}. "
        "Reply YES to confirm or CANCEL to cancel.",
    )
    # when
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        template.full_clean()
    # then
    assert refused.value.message_dict["body"] == [
        "Carriers read CANCEL as an opt-out: a patient who answers with it no longer "
        "gets any SMS from the clinic. Ask for it only to opt out, or choose "
        "another word (such as A or 2)."
    ]


def test_the_refusal_speaks_french_to_french_staff(organization):
    """The message is translated."""
    template = TemplateFactory.build(
        topic=TopicFactory(organization=organization),
        body="Répondez STOP pour annuler votre rendez-vous.",
    )
    with (
        translation.override("fr"),
        pytest.raises(
            ValidationError, match="Les opérateurs lisent STOP comme une désinscription"
        ),
    ):
        template.full_clean()


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        ("sms", "Reply C to confirm, A to cancel. Reply STOP to opt out."),
        ("sms", "Répondez STOP pour ne plus recevoir de SMS."),
        ("voice", "Press 1 to confirm, 2 to cancel."),
        ("email", "Reply CANCEL to cancel."),
        ("inapp", "Reply CANCEL to cancel."),
    ],
)
def test_stop_to_opt_out_and_other_channels_are_accepted(organization, channel, body):
    """STOP asked for to opt out is fine; email and the inbox reach no carrier."""
    TemplateFactory.build(
        topic=TopicFactory(organization=organization), channel=channel, body=body
    ).full_clean()


def test_a_saved_reply_asking_for_cancel_is_refused(organization):
    """A saved reply may leave by SMS: the same rule holds."""
    saved = SavedReply(
        organization=organization,
        title="Annulation",
        language="en",
        body="Reply CANCEL to cancel your visit.",
    )
    with (
        translation.override("en"),
        pytest.raises(ValidationError, match="Carriers read CANCEL as an opt-out"),
    ):
        saved.full_clean()
