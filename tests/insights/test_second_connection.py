"""The patient-centred figures computed on a second connection give what the
request's own connection gives, in the staff member's language."""

import threading

import pytest

from django.db import connection
from django.utils import translation

from insights import kpis, second_connection
from tests.clinic.factories import PatientFactory, SiteFactory
from tests.insights.builders import END, START, appointment, portal_patient


def _values(board: kpis.Dashboard) -> dict:
    return {
        f.key: (f.label, f.value, f.numerator, f.denominator) for f in board.figures
    }


@pytest.mark.django_db(transaction=True)  # committed: a second connection sees it
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a second connection on PostgreSQL only"
)
def test_a_second_connection_gives_the_same_dashboard(organization, monkeypatch):
    # given
    for _ in range(3):
        PatientFactory(organization=organization)
    portal_patient(organization)
    site = SiteFactory(organization=organization)
    appointment(PatientFactory(organization=organization), site, "fulfilled")
    scope = kpis.Scope(organization=organization, start=START, end=END)
    threads = []
    started = threading.Thread.start
    monkeypatch.setattr(
        threading.Thread,
        "start",
        lambda self: threads.append(self.name) or started(self),
    )
    # when
    with translation.override("fr"):
        assert second_connection.second_connection_usable()
        concurrent = kpis.dashboard(scope)
        monkeypatch.setattr(
            second_connection, "second_connection_usable", lambda: False
        )
        in_place = kpis.dashboard(scope)
    # then
    assert threads == [f"{second_connection.THREAD_NAME}_0"]
    assert _values(concurrent) == _values(in_place)
    assert "attrition" in _values(concurrent)
    assert concurrent.get("attrition").label.startswith("Patients")  # French


@pytest.mark.django_db
def test_inside_a_transaction_it_computes_in_place():
    """A test's (or any caller's) uncommitted rows stay visible."""
    assert not second_connection.second_connection_usable()
