import factory
from factory.django import DjangoModelFactory

from messaging.models import Template
from tests.consent.factories import TopicFactory


class TemplateFactory(DjangoModelFactory):
    class Meta:
        model = Template

    topic = factory.SubFactory(TopicFactory)
    channel = "sms"
    language = "fr"
    sensitivity = "public"
    subject = ""
    body = "Bonjour {{ patient_first_name }}, rendez-vous le {{ appointment_date }}."
