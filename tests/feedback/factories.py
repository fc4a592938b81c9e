import factory
from factory.django import DjangoModelFactory

from feedback.models import Question, Survey
from tests.clinic.factories import OrganizationFactory
from tests.consent.factories import TopicFactory


class SurveyFactory(DjangoModelFactory):
    class Meta:
        model = Survey

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Survey {n}")
    title_fr = "Votre avis compte"
    title_en = "Your opinion matters"
    topic = factory.SubFactory(
        TopicFactory,
        organization=factory.SelfAttribute("..organization"),
        purpose="feedback",
        channels=["inapp", "sms"],
    )


class QuestionFactory(DjangoModelFactory):
    class Meta:
        model = Question

    survey = factory.SubFactory(SurveyFactory)
    position = factory.Sequence(int)
    kind = "nps"
    text_fr = "Recommanderiez-vous la clinique ?"
    text_en = "Would you recommend the clinic?"
