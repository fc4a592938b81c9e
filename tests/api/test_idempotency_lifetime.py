"""Idempotency answers are forgotten after a day, and at once on erasure."""

import datetime

import pytest

from django.utils import timezone

from api.models import IdempotencyRecord
from clinic.models import Patient
from consent.gdpr.erase import erase_patient
from core.scheduler import due_run
from tests.api.api_support import PATIENTS, new_patient

pytestmark = pytest.mark.django_db


def test_the_due_job_purges_answers_older_than_a_day(api):
    api.post_json(PATIENTS, new_patient("A"), HTTP_IDEMPOTENCY_KEY="a")
    assert IdempotencyRecord.objects.count() == 1
    due_run(timezone.now() + datetime.timedelta(hours=23))
    assert IdempotencyRecord.objects.count() == 1
    due_run(timezone.now() + datetime.timedelta(hours=25))
    assert not IdempotencyRecord.objects.exists()


def test_erasure_forgets_answers_that_name_the_patient(api):
    api.post_json(PATIENTS, new_patient("A"), HTTP_IDEMPOTENCY_KEY="a")
    api.post_json(PATIENTS, new_patient("B"), HTTP_IDEMPOTENCY_KEY="b")
    erase_patient(patient=Patient.objects.get(identifier="A"))
    [left] = IdempotencyRecord.objects.all()
    assert left.key == "b"
