"""Planning pages run with the cyclic collector held off
(messaging.services.collector): nothing a page builds is garbage before it ends."""

import gc

import pytest
import time_machine

from messaging.services import message_send_many
from messaging.services.bulk import _send_page
from messaging.services.collector import collector_paused
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS
from tests.support.gc_watch import collections_watched


def test_the_collector_is_back_on_after_the_block_even_after_an_error():
    assert gc.isenabled()

    def fails():
        with collector_paused():
            assert not gc.isenabled()
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fails()
    assert gc.isenabled()


def test_nested_blocks_leave_it_to_the_outermost():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_block_entered_with_the_collector_off_leaves_it_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.django_db
def test_no_collection_starts_while_a_page_is_planned(organization):
    # given
    topic = TopicFactory(organization=organization, slug="results", purpose="care")
    TemplateFactory(
        topic=topic, channel="inapp", body="Bonjour {{ patient_first_name }}"
    )
    patients = [PatientFactory(organization=organization) for _ in range(20)]
    # when
    with (
        time_machine.travel(WEEKDAY_NOON_PARIS, tick=False),
        collections_watched(_send_page) as seen,
    ):
        planned = message_send_many(
            patients=type(patients[0]).objects.filter(pk__in=[p.pk for p in patients]),
            topic=topic,
            origin="api",
        )
    # then: collections ran around the page (the watch works), none inside it
    assert planned == 20
    assert seen.total > 0
    assert seen.inside == []
