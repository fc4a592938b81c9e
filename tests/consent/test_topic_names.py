"""A topic (and a survey question) reads in the language of whoever reads it:
staff in admin, patients in the portal (issue 19)."""

import pytest

from django.utils import translation

from tests.consent.factories import TopicFactory
from tests.feedback.factories import QuestionFactory

pytestmark = pytest.mark.django_db


def test_a_topic_is_named_in_the_active_language(organization):
    # given
    topic = TopicFactory(
        organization=organization, name_en="Billing", name_fr="Facturation"
    )
    # then
    with translation.override("fr"):
        assert str(topic) == "Facturation"
    with translation.override("en"):
        assert str(topic) == "Billing"


def test_a_topic_without_a_name_in_a_language_falls_back_to_the_other(organization):
    topic = TopicFactory(organization=organization, name_en="Billing", name_fr="")
    assert topic.name("fr") == "Billing"
    topic.name_en, topic.name_fr = "", "Facturation"
    assert topic.name("en") == "Facturation"


def test_a_question_is_named_in_the_active_language(organization):
    question = QuestionFactory(
        survey__organization=organization, text_fr="Satisfait ?", text_en="Satisfied?"
    )
    with translation.override("fr"):
        assert str(question) == "Satisfait ?"
    with translation.override("en"):
        assert str(question) == "Satisfied?"
