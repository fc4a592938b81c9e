"""Erasure requests: withdrawn by the patient while open, carried out by staff,
never both (issue 18, item 5)."""

import threading

import pytest
import time_machine

from django.db import IntegrityError, connection, transaction

from clinic.models import AccessAudit, Patient
from consent.models import ErasureRequest
from consent.requests.services import (
    ErasureRequestClosedError,
    erasure_request_create,
    erasure_request_fulfil,
    erasure_request_open_get,
    erasure_request_withdraw,
)
from tests.clinic.factories import PatientFactory, StaffMemberFactory, UserFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(organization):
    return PatientFactory(
        organization=organization, family_name="Lilasfamily", user=UserFactory()
    )


@pytest.fixture
def open_request(patient):
    return erasure_request_create(patient=patient, requested_by=patient.user)


@pytest.fixture
def staff(organization):
    return StaffMemberFactory(organization=organization).user


def test_withdrawing_records_who_and_when(patient, open_request):
    # when
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        withdrawn = erasure_request_withdraw(
            erasure_request=open_request, withdrawn_by=patient.user
        )
    # then
    open_request.refresh_from_db()
    assert open_request.status == ErasureRequest.Status.WITHDRAWN
    assert open_request.withdrawn_at == WEEKDAY_NOON_PARIS
    assert open_request.withdrawn_by == patient.user
    assert withdrawn.pk == open_request.pk
    assert erasure_request_open_get(patient=patient) is None


def test_a_withdrawn_request_cannot_be_carried_out(patient, open_request, staff):
    # given
    erasure_request_withdraw(erasure_request=open_request, withdrawn_by=patient.user)
    # when
    with pytest.raises(ErasureRequestClosedError) as error:
        erasure_request_fulfil(erasure_request=open_request, actor=staff)
    # then
    assert error.value.status == ErasureRequest.Status.WITHDRAWN
    patient.refresh_from_db()
    assert patient.erased_at is None
    assert patient.family_name == "Lilasfamily"
    assert not AccessAudit.objects.filter(action=AccessAudit.Action.ERASE).exists()
    open_request.refresh_from_db()
    assert open_request.handled_by is None


def test_a_carried_out_request_cannot_be_withdrawn(patient, open_request, staff):
    # given
    erasure_request_fulfil(erasure_request=open_request, actor=staff)
    # when
    with pytest.raises(ErasureRequestClosedError) as error:
        erasure_request_withdraw(erasure_request=open_request, withdrawn_by=None)
    # then
    assert error.value.status == ErasureRequest.Status.DONE
    open_request.refresh_from_db()
    assert open_request.status == ErasureRequest.Status.DONE
    assert open_request.withdrawn_at is None


def test_a_stale_copy_is_checked_against_the_row(patient, open_request, staff):
    # given: staff loaded the request before the patient withdrew it
    stale = ErasureRequest.objects.get(pk=open_request.pk)
    erasure_request_withdraw(erasure_request=open_request, withdrawn_by=patient.user)
    # when / then
    assert stale.status == ErasureRequest.Status.OPEN
    with pytest.raises(ErasureRequestClosedError):
        erasure_request_fulfil(erasure_request=stale, actor=staff)
    assert Patient.objects.get(pk=patient.pk).erased_at is None


def test_withdrawing_twice_is_refused(patient, open_request):
    erasure_request_withdraw(erasure_request=open_request, withdrawn_by=patient.user)
    with pytest.raises(ErasureRequestClosedError) as error:
        erasure_request_withdraw(
            erasure_request=open_request, withdrawn_by=patient.user
        )
    assert error.value.status == ErasureRequest.Status.WITHDRAWN


def test_after_withdrawing_the_patient_may_ask_again(patient, open_request):
    erasure_request_withdraw(erasure_request=open_request, withdrawn_by=patient.user)
    again = erasure_request_create(patient=patient, requested_by=patient.user)
    assert again.pk != open_request.pk
    assert erasure_request_open_get(patient=patient) == again


def test_the_database_wants_a_date_on_a_withdrawn_request(open_request):
    with pytest.raises(IntegrityError), transaction.atomic():
        ErasureRequest.objects.filter(pk=open_request.pk).update(
            status=ErasureRequest.Status.WITHDRAWN
        )


# --- Withdrawal and execution at the same moment (PostgreSQL row locks) -----------


def _in_thread(target) -> tuple[threading.Thread, list]:
    outcome = []

    def run():
        try:
            target()
            outcome.append("done")
        except ErasureRequestClosedError as error:
            outcome.append(error.status)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")


@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_waits_for_the_execution_under_way_then_is_refused(
    organization,
):
    _needs_postgresql()
    patient = PatientFactory(organization=organization, user=UserFactory())
    request = erasure_request_create(patient=patient, requested_by=patient.user)
    staff = StaffMemberFactory(organization=organization).user
    with transaction.atomic():
        # given: staff are carrying the request out (not yet committed)
        erasure_request_fulfil(erasure_request=request, actor=staff)
        # when: the patient withdraws it at that moment
        thread, outcome = _in_thread(
            lambda: erasure_request_withdraw(
                erasure_request=request, withdrawn_by=patient.user
            )
        )
        thread.join(timeout=1)
        # then: the withdrawal waits on the row lock ...
        assert thread.is_alive()
    thread.join(timeout=10)
    # ... and, once the erasure committed, is refused
    assert outcome == [ErasureRequest.Status.DONE]
    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.DONE
    assert request.withdrawn_at is None


@pytest.mark.django_db(transaction=True)
def test_an_execution_waits_for_the_withdrawal_under_way_then_is_refused(
    organization,
):
    _needs_postgresql()
    patient = PatientFactory(organization=organization, user=UserFactory())
    request = erasure_request_create(patient=patient, requested_by=patient.user)
    staff = StaffMemberFactory(organization=organization).user
    listed = ErasureRequest.objects.get(pk=request.pk)  # the staff's list, open
    with transaction.atomic():
        # given: the patient is withdrawing the request (not yet committed)
        erasure_request_withdraw(erasure_request=request, withdrawn_by=patient.user)
        # when: staff carry it out at that moment, from the list read before
        thread, outcome = _in_thread(
            lambda: erasure_request_fulfil(erasure_request=listed, actor=staff)
        )
        thread.join(timeout=1)
        # then: the execution waits on the row lock ...
        assert thread.is_alive()
    thread.join(timeout=10)
    # ... and, once the withdrawal committed, erases nothing
    assert outcome == [ErasureRequest.Status.WITHDRAWN]
    patient.refresh_from_db()
    assert patient.erased_at is None
    assert not AccessAudit.objects.filter(action=AccessAudit.Action.ERASE).exists()


def test_the_database_keeps_one_open_request_a_patient(patient, open_request):
    # given: an open request; when: a second open one is written past the service
    with pytest.raises(IntegrityError), transaction.atomic():
        ErasureRequest.objects.create(patient=patient, due_at=open_request.due_at)
    # then: a closed request beside the open one is fine
    ErasureRequest.objects.create(
        patient=patient, due_at=open_request.due_at, status="refused"
    )


@pytest.mark.django_db(transaction=True)
def test_two_asks_at_the_same_instant_make_one_open_request(organization):
    _needs_postgresql()
    patient = PatientFactory(organization=organization, user=UserFactory())
    with transaction.atomic():
        # given: the patient's first ask, not yet committed
        first = erasure_request_create(patient=patient, requested_by=patient.user)
        # when: a second ask (another tab) comes at that moment
        thread, outcome = _in_thread(
            lambda: erasure_request_create(patient=patient, requested_by=patient.user)
        )
        thread.join(timeout=1)
        # then: it waits for the first ...
        assert thread.is_alive()
    thread.join(timeout=10)
    # ... and finds it, instead of writing a second request
    assert outcome == ["done"]
    assert list(ErasureRequest.objects.filter(patient=patient)) == [first]


def test_erasing_from_the_privacy_page_answers_the_open_request(
    patient, open_request, staff
):
    # given: the patient's open request; when: staff erase the patient directly
    from consent.gdpr.erase import erase_patient

    erase_patient(patient=patient, actor=staff)
    # then: the request is done, by them, not left open and overdue
    open_request.refresh_from_db()
    assert open_request.status == ErasureRequest.Status.DONE
    assert open_request.handled_by == staff
    assert erasure_request_open_get(patient=patient) is None
