"""Contact details: a new email or mobile number is saved only once the code
sent to it is entered (portal.contact_points, /portal/preferences/contact/)."""

import datetime
import hashlib
import logging
import re
from pathlib import Path

import pytest
import time_machine

from django.contrib.admin.models import CHANGE, LogEntry
from django.core import mail
from django.urls import reverse

from clinic.models import Patient
from consent.models import PatientPreferences
from messaging.backends import locmem
from messaging.models import Delivery
from portal.contact_points.models import ContactPointChange
from portal.contact_points.services import (
    HOURLY_CODE_LIMIT,
    MAX_WRONG_CODES,
    contact_changes_erase,
)
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    PatientFactory,
    UserFactory,
)
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 11, 0, tzinfo=datetime.UTC)
OLD_EMAIL = "camille@example.org"
OLD_MOBILE = "+33612345678"
NEW_EMAIL = "camille.new@example.net"
NEW_MOBILE = "+33698765432"
DETAILS = reverse("portal:contact_details")
Status = ContactPointChange.Status
TEMPLATES = Path(__file__).resolve().parents[2] / "templates/portal/preferences"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _deliver_on_commit(monkeypatch):
    """The test's transaction never commits: deliver at once, as a worker would."""
    from django.db import transaction

    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: fn()
    )
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def security(organization):
    return TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )


@pytest.fixture
def patient(patient_user, security):
    """Camille, with a verified email and mobile number."""
    _user, patient = patient_user
    patient.email, patient.phone, patient.phone_is_mobile = OLD_EMAIL, OLD_MOBILE, True
    patient.save()
    PatientPreferences.objects.create(
        patient=patient, email_verified_at=NOON, phone_verified_at=NOON
    )
    return patient


@pytest.fixture
def client_(patient_client, patient):
    return patient_client


def confirm_url(change) -> str:
    return reverse("portal:contact_confirm", args=[change.public_id])


def ask(client, kind="email", value=NEW_EMAIL):
    return client.post(DETAILS, {"form": kind, kind: value})


def the_code(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def emailed_code(to=NEW_EMAIL) -> str:
    [sent] = [m for m in mail.outbox if m.to == [to]]
    return the_code(sent.body)


def texted_code(to=NEW_MOBILE) -> str:
    [sent] = [s for s in locmem.outbox if s["to"] == to]
    return the_code(sent["body"])


def enter(client, change, code):
    return client.post(confirm_url(change), {"action": "confirm", "token": code})


def pending_change(patient) -> ContactPointChange:
    return ContactPointChange.objects.get(patient=patient, status=Status.PENDING)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# The page


def test_the_page_shows_the_current_details_partly_hidden(client_, patient):
    response = client_.get(DETAILS)
    assert response.status_code == 200
    content = response.content.decode()
    assert "c…@example.org" in content
    assert "+33 … 78" in content
    assert OLD_EMAIL not in content
    assert OLD_MOBILE not in content


def test_the_preference_centre_links_to_it(client_, patient):
    response = client_.get(reverse("portal:preferences"))
    assert f'href="{DETAILS}"' in response.content.decode()


@pytest.mark.parametrize("name", ["contact.html", "contact_confirm.html"])
def test_the_pages_are_plain_forms_without_script_or_inline_style(name):
    text = (TEMPLATES / name).read_text()
    assert "<script" not in text
    assert "style=" not in text
    for form in re.findall(r"<form[^>]*>.*?</form>", text, flags=re.S):
        assert 'method="post"' in form
        assert "{% csrf_token %}" in form


def test_the_fields_are_labelled_and_described(client_, patient):
    content = client_.get(DETAILS).content.decode()
    assert '<label for="id_email">' in content
    assert '<label for="id_phone">' in content
    assert 'aria-describedby="id_phone_helptext"' in content
    assert 'id="id_phone_helptext"' in content


# Asking for a change


def test_a_new_email_gets_a_code_and_the_record_is_unchanged(client_, patient):
    # when
    response = ask(client_, "email", NEW_EMAIL)
    # then
    change = pending_change(patient)
    assert response.status_code == 302
    assert response.url == confirm_url(change)
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL]]  # the new address only
    assert re.fullmatch(r"\d{6}", emailed_code())
    assert locmem.outbox == []  # no SMS
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL
    delivery = Delivery.objects.get(message__patient=patient)
    assert (delivery.channel, delivery.address) == ("email", NEW_EMAIL)
    assert delivery.message.topic.purpose == "security"


def test_a_new_mobile_gets_a_code_by_sms_and_the_record_is_unchanged(client_, patient):
    # when: typed the way it is written in France
    response = ask(client_, "phone", "06 98 76 54 32")
    # then
    assert response.status_code == 302
    assert re.fullmatch(r"\d{6}", texted_code(NEW_MOBILE))
    assert [s["to"] for s in locmem.outbox] == [NEW_MOBILE]
    assert mail.outbox == []
    patient.refresh_from_db()
    assert str(patient.phone) == OLD_MOBILE


def test_the_confirmation_page_shows_the_new_address_to_check_it(client_, patient):
    ask(client_, "phone", NEW_MOBILE)
    response = client_.get(confirm_url(pending_change(patient)))
    assert response.status_code == 200
    assert "+33 6 98 76 54 32" in response.content.decode()
    assert 'autocomplete="one-time-code"' in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "not-an-address"),
        ("email", "CAMILLE@EXAMPLE.ORG"),  # the current one
        ("phone", "06 12 34 56 78"),  # the current one
        ("phone", "+33 1 23 45 67 89"),  # a landline cannot receive SMS
        ("phone", "12"),
        ("phone", ""),
    ],
)
def test_an_unusable_or_unchanged_address_is_refused_on_the_page(
    client_, patient, kind, value
):
    # when
    response = ask(client_, kind, value)
    # then
    assert response.status_code == 200
    assert response.context[f"{kind}_form"].errors[kind]
    content = response.content.decode()
    assert 'aria-invalid="true"' in content
    assert f'id="id_{kind}_error"' in content
    assert re.search(rf'aria-describedby="[^"]*id_{kind}_error', content)
    assert not ContactPointChange.objects.exists()
    assert mail.outbox == []
    assert locmem.outbox == []


def test_without_a_security_topic_for_the_channel_nothing_is_kept(
    client_, patient, security
):
    # given
    security.channels = ["email"]
    security.save()
    # when
    response = ask(client_, "phone", NEW_MOBILE)
    # then
    assert response.status_code == 200
    assert response.context["phone_form"].errors["phone"]
    assert not ContactPointChange.objects.exists()
    assert locmem.outbox == []


def test_a_new_request_replaces_the_older_pending_one(client_, patient, clock):
    # given
    ask(client_, "email", "first@example.net")
    first = pending_change(patient)
    first_code = emailed_code("first@example.net")
    clock.shift(datetime.timedelta(seconds=31))
    # when
    ask(client_, "email", NEW_EMAIL)
    # then
    first.refresh_from_db()
    assert first.status == Status.REPLACED
    assert first.new_value == ""
    assert first.code_hash == ""
    assert pending_change(patient).new_value == NEW_EMAIL
    response = enter(client_, first, first_code)
    assert response.status_code == 302
    assert response.url == DETAILS
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL


def test_an_email_and_a_mobile_may_wait_at_the_same_time(client_, patient, clock):
    ask(client_, "email", NEW_EMAIL)
    clock.shift(datetime.timedelta(seconds=31))
    ask(client_, "phone", NEW_MOBILE)
    assert ContactPointChange.objects.filter(status=Status.PENDING).count() == 2


# Confirming


def test_the_right_code_applies_the_change(client_, patient, patient_user):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    # when
    response = enter(client_, change, emailed_code())
    # then
    assert response.status_code == 302
    assert response.url == DETAILS
    patient.refresh_from_db()
    assert patient.email == NEW_EMAIL
    preferences = PatientPreferences.objects.get(patient=patient)
    assert preferences.email_verified_at == NOON
    change.refresh_from_db()
    assert change.status == Status.CONFIRMED
    assert (change.new_value, change.code_hash) == ("", "")
    entry = LogEntry.objects.get(object_id=str(patient.pk))
    assert entry.user == patient_user[0]
    assert entry.action_flag == CHANGE
    assert "Email" in entry.change_message
    assert NEW_EMAIL not in entry.change_message


def test_a_confirmed_mobile_is_verified_and_takes_sms(client_, patient):
    # given: the old number had bounced
    PatientPreferences.objects.filter(patient=patient).update(phone_invalid_at=NOON)
    ask(client_, "phone", NEW_MOBILE)
    # when
    enter(client_, pending_change(patient), texted_code())
    # then
    patient.refresh_from_db()
    assert (str(patient.phone), patient.phone_is_mobile) == (NEW_MOBILE, True)
    preferences = PatientPreferences.objects.get(patient=patient)
    assert preferences.phone_verified_at == NOON
    assert preferences.phone_invalid_at is None


def test_the_old_email_is_told_without_the_code(client_, patient):
    # given
    ask(client_, "email", NEW_EMAIL)
    code = emailed_code()
    # when
    enter(client_, pending_change(patient), code)
    # then
    [notice] = [m for m in mail.outbox if m.to == [OLD_EMAIL]]
    assert code not in notice.body
    assert NEW_EMAIL not in notice.body
    assert len(mail.outbox) == 2  # the code, the notice


def test_the_old_mobile_is_told_without_the_code(client_, patient):
    ask(client_, "phone", NEW_MOBILE)
    code = texted_code()
    enter(client_, pending_change(patient), code)
    [notice] = [s for s in locmem.outbox if s["to"] == OLD_MOBILE]
    assert code not in notice["body"]
    assert NEW_MOBILE not in notice["body"]


def test_an_unverified_old_address_is_not_told(client_, patient):
    """Security messages go to verified contact points only."""
    PatientPreferences.objects.filter(patient=patient).update(email_verified_at=None)
    ask(client_, "email", NEW_EMAIL)
    enter(client_, pending_change(patient), emailed_code())
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL]]


def test_a_first_email_needs_no_old_one(client_, patient):
    # given: no email at all
    patient.email = ""
    patient.save()
    # when
    ask(client_, "email", NEW_EMAIL)
    enter(client_, pending_change(patient), emailed_code())
    # then
    patient.refresh_from_db()
    assert patient.email == NEW_EMAIL
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL]]


def test_a_code_works_once(client_, patient):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    enter(client_, change, code)
    # when: the same code again, after the address was changed back by staff
    patient.refresh_from_db()
    patient.email = OLD_EMAIL
    patient.save()
    response = enter(client_, change, code)
    # then
    assert response.status_code == 302
    assert response.url == DETAILS
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL
    assert LogEntry.objects.count() == 1


def test_a_wrong_code_is_counted(client_, patient):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    # when
    response = enter(client_, change, wrong(emailed_code()))
    # then
    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    assert 'aria-invalid="true"' in response.content.decode()
    change.refresh_from_db()
    assert (change.status, change.failed_attempts) == (Status.PENDING, 1)
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL


def test_the_last_wrong_code_voids_the_change(client_, patient):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    for _try in range(MAX_WRONG_CODES - 1):
        assert enter(client_, change, wrong(code)).status_code == 200
    # when
    response = enter(client_, change, wrong(code))
    # then
    assert response.status_code == 302
    assert response.url == DETAILS
    change.refresh_from_db()
    assert change.status == Status.LOCKED
    assert (change.new_value, change.code_hash) == ("", "")
    enter(client_, change, code)  # the right code, too late
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL


def test_a_code_expires(client_, patient, clock, settings):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    # when
    clock.shift(datetime.timedelta(seconds=settings.OTP_CODE_VALIDITY + 1))
    response = enter(client_, change, code)
    # then
    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL
    change.refresh_from_db()
    assert change.failed_attempts == 0  # late is not wrong


def test_a_code_still_works_just_before_it_expires(client_, patient, clock, settings):
    ask(client_, "email", NEW_EMAIL)
    clock.shift(datetime.timedelta(seconds=settings.OTP_CODE_VALIDITY - 1))
    enter(client_, pending_change(patient), emailed_code())
    patient.refresh_from_db()
    assert patient.email == NEW_EMAIL


def test_a_new_code_is_throttled_and_replaces_the_previous_one(client_, patient, clock):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    first = emailed_code()
    # when: at once
    client_.post(confirm_url(change), {"action": "resend"})
    # then: nothing more is sent
    assert len(mail.outbox) == 1
    # when: after the cool-down
    clock.shift(datetime.timedelta(seconds=31))
    response = client_.post(confirm_url(change), {"action": "resend"})
    # then
    assert response.status_code == 302
    assert response.url == confirm_url(change)
    assert len(mail.outbox) == 2
    second = the_code(mail.outbox[-1].body)
    if second != first:  # one chance in a million to draw the same code
        enter(client_, change, first)
        patient.refresh_from_db()
        assert patient.email == OLD_EMAIL
    enter(client_, change, second)
    patient.refresh_from_db()
    assert patient.email == NEW_EMAIL


def test_codes_are_limited_per_hour(client_, patient, clock):
    # given
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    for _code in range(HOURLY_CODE_LIMIT - 1):
        clock.shift(datetime.timedelta(seconds=31))
        client_.post(confirm_url(change), {"action": "resend"})
    assert len(mail.outbox) == HOURLY_CODE_LIMIT
    # when
    clock.shift(datetime.timedelta(seconds=31))
    client_.post(confirm_url(change), {"action": "resend"})
    response = ask(client_, "phone", NEW_MOBILE)
    # then
    assert len(mail.outbox) == HOURLY_CODE_LIMIT
    assert locmem.outbox == []
    assert response.context["phone_form"].errors["phone"]


def test_a_change_may_be_cancelled(client_, patient):
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    response = client_.post(confirm_url(change), {"action": "cancel"})
    assert response.status_code == 302
    assert response.url == DETAILS
    change.refresh_from_db()
    assert change.status == Status.CANCELLED
    enter(client_, change, code)
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL


# Who may


def test_a_caregiver_without_the_preferences_scope_gets_404(client, patient, security):
    # given: a parent who may read messages only, and the patient's pending change
    caregiver = CaregiverFactory(
        user=UserFactory(username="parent"),
        patient=patient,
        can_see_messages=True,
        can_manage_preferences=False,
    )
    change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value=NEW_EMAIL
    )
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()
    # when / then
    assert client.get(DETAILS).status_code == 404
    assert ask(client, "email", "parent@example.org").status_code == 404
    assert client.get(confirm_url(change)).status_code == 404
    assert enter(client, change, "000000").status_code == 404
    assert mail.outbox == []


def _acting_for(client, patient, **scopes):
    caregiver = CaregiverFactory(
        user=UserFactory(username="parent"), patient=patient, **scopes
    )
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()
    return caregiver


def test_a_proxy_cannot_move_the_sign_in_codes_of_a_patient_with_an_account(
    client, patient
):
    """The patient's email and mobile carry their own sign-in codes: a parent
    with the preferences scope must not redirect them to themself."""
    assert patient.user_id is not None
    _acting_for(client, patient, can_manage_preferences=True)
    assert client.get(DETAILS).status_code == 404
    assert ask(client, "email", "parent@example.org").status_code == 404
    assert "contact/" not in client.get(reverse("portal:preferences")).content.decode()
    assert mail.outbox == []


def test_a_caregiver_with_the_preferences_scope_may_change_it(client, patient):
    """A young child without an account: the parent keeps the details right."""
    Patient.objects.filter(pk=patient.pk).update(user=None)
    patient.refresh_from_db()
    # given
    caregiver = CaregiverFactory(
        user=UserFactory(username="parent"),
        patient=patient,
        can_manage_preferences=True,
    )
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()
    # when
    ask(client, "email", NEW_EMAIL)
    enter(client, pending_change(patient), emailed_code())
    # then
    patient.refresh_from_db()
    assert patient.email == NEW_EMAIL
    assert LogEntry.objects.get().user == caregiver.user
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL], [OLD_EMAIL]]


def test_another_patient_cannot_confirm_someone_elses_change(client, client_, patient):
    # given: Camille asked for a change
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    client_.logout()
    neighbour = UserFactory(username="neighbour")
    PatientFactory(organization=patient.organization, user=neighbour)
    client.force_login(neighbour)
    # when
    responses = [
        client.get(confirm_url(change)),
        enter(client, change, code),
        client.post(confirm_url(change), {"action": "cancel"}),
        client.post(confirm_url(change), {"action": "resend"}),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    change.refresh_from_db()
    assert (change.status, change.failed_attempts, change.send_count) == (
        Status.PENDING,
        0,
        1,
    )
    patient.refresh_from_db()
    assert patient.email == OLD_EMAIL


# What is kept, sent and logged


def test_the_code_is_not_stored_in_clear(client_, patient):
    # given
    ask(client_, "phone", NEW_MOBILE)
    code = texted_code()
    # then: only a keyed hash, in no column of the pending change
    change = pending_change(patient)
    values = [
        str(getattr(change, field.attname)) for field in change._meta.concrete_fields
    ]
    assert not any(code in value for value in values)
    assert len(change.code_hash) == 64
    assert change.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert not ContactPointChange.objects.filter(code_hash__contains=code).exists()


def test_no_health_data_in_the_messages_and_the_code_is_not_logged(
    client_, patient, caplog
):
    # given: a patient with appointments
    AppointmentFactory(patient=patient, kind="SECRET-KIND")
    caplog.set_level(logging.DEBUG)
    # when: a whole change, with a wrong code on the way
    ask(client_, "email", NEW_EMAIL)
    change = pending_change(patient)
    code = emailed_code()
    enter(client_, change, wrong(code))
    enter(client_, change, code)
    # then
    for sent in mail.outbox:
        text = f"{sent.subject}\n{sent.body}"
        assert "SECRET-KIND" not in text
        assert patient.given_name not in text
        assert patient.family_name not in text
        assert patient.organization.name not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert code not in logged
    assert wrong(code) not in logged
    assert NEW_EMAIL not in logged


def test_erasure_forgets_the_pending_address(patient):
    change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value=NEW_EMAIL, code_hash="x" * 64
    )
    assert contact_changes_erase(patient) == 2
    change.refresh_from_db()
    assert (change.status, change.new_value, change.code_hash) == (
        Status.CANCELLED,
        "",
        "",
    )
    assert contact_changes_erase(patient) == 0


def test_erasing_the_patient_erases_their_pending_address(patient):
    """The portal registers its eraser: the GDPR erasure reaches the change."""
    from consent.gdpr.erase import erase_patient

    change = ContactPointChange.objects.create(
        patient=patient, kind="email", new_value=NEW_EMAIL, code_hash="x" * 64
    )
    erase_patient(patient=patient, actor_label="test")
    change.refresh_from_db()
    assert (change.new_value, change.code_hash) == ("", "")
