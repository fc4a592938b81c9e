"""decide_many: the same answers as decide, for many patients in few queries."""

import datetime
import random

import pytest

from clinic.models import Patient
from consent import services
from consent.errors import ConsentError
from consent.selectors import decide, decide_many, iter_decisions
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory
from tests.consent.population_support import (
    START,
    build_random_population,
)


@pytest.mark.django_db
def test_decide_many_takes_a_few_queries_whatever_the_size(
    organization, django_assert_max_num_queries
):
    rng = random.Random(3)
    _, topics = build_random_population(organization, rng, size=30)
    services.policy_get(organization=organization)
    topic = topics[1]
    with django_assert_max_num_queries(5):
        decisions = decide_many(
            Patient.objects.for_organization(organization), topic, "email", START
        )
    assert len(decisions) == 30


@pytest.mark.django_db
def test_decide_many_accepts_ids_patients_and_batches(organization):
    rng = random.Random(5)
    patients, topics = build_random_population(organization, rng, size=12)
    at = START + datetime.timedelta(days=200, hours=10)
    by_objects = decide_many(patients, topics[0], "sms", at)
    by_ids = decide_many([p.pk for p in patients], topics[0], "sms", at)
    batched = dict(iter_decisions(patients, topics[0], "sms", at, batch_size=5))
    assert by_objects == by_ids == batched
    assert by_objects[patients[0].pk] == decide(patients[0], topics[0], "sms", at)


@pytest.mark.django_db
def test_decide_many_refuses_another_organizations_patient(organization):
    topic = TopicFactory(organization=organization, slug="care-x", purpose="care")
    stranger = PatientFactory(organization=OrganizationFactory(slug="elsewhere"))
    with pytest.raises(ConsentError, match="another organization"):
        decide_many([stranger], topic, "sms", START)
    with pytest.raises(ConsentError, match="Unknown channel"):
        decide_many([], topic, "pigeon", START)


@pytest.mark.django_db
def test_queryset_batches_ignore_other_patients_in_the_id_range(organization):
    """Related rows are fetched by id range; other organizations' rows in it are not used."""
    other = OrganizationFactory(slug="interleaved")
    topic = TopicFactory(organization=organization, slug="news", purpose="marketing")
    mine, theirs = [], []
    for n in range(6):
        mine.append(PatientFactory(organization=organization))
        theirs.append(PatientFactory(organization=other))
        if n % 2 == 0:
            services.consent_grant(
                patient=mine[-1], purpose="marketing", source="portal"
            )
        services.consent_grant(patient=theirs[-1], purpose="marketing", source="portal")
    at = START + datetime.timedelta(days=300, hours=10)
    decisions = dict(
        iter_decisions(
            Patient.objects.for_organization(organization),
            topic,
            "inapp",
            at,
            batch_size=4,
        )
    )
    assert set(decisions) == {p.pk for p in mine}
    assert decisions == {p.pk: decide(p, topic, "inapp", at) for p in mine}
