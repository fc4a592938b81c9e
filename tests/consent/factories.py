import factory
from factory.django import DjangoModelFactory

from consent.models import Topic
from tests.clinic.factories import OrganizationFactory


class TopicFactory(DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ["organization", "slug"]

    organization = factory.SubFactory(OrganizationFactory)
    slug = factory.Sequence(lambda n: f"topic-{n}")
    name_en = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())
    name_fr = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())
    purpose = "care"
    channels = ["inapp", "email", "sms", "voice"]
