"""Contact details: a new email or mobile number is saved only once the code
sent to it is entered (portal.contact_points, /portal/preferences/contact/)."""

import datetime
import re

import pytest

from django.contrib.admin.models import CHANGE, LogEntry
from django.core import mail
from django.urls import reverse

from consent.models import PatientPreferences
from messaging.backends import locmem
from messaging.models import Delivery
from portal.contact_points.models import ContactPointChange
from portal.contact_points.services import (
    HOURLY_CODE_LIMIT,
    MAX_WRONG_CODES,
)
from tests.portal.contact_points.conftest import (
    DETAILS,
    NEW_EMAIL,
    NEW_MOBILE,
    OLD_EMAIL,
    OLD_MOBILE,
    TEMPLATES,
    Status,
    ask,
    confirm_url,
    emailed_code,
    enter,
    pending_change,
    texted_code,
    the_code,
    wrong,
)
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db

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
    assert preferences.email_verified_at == WEEKDAY_NOON_PARIS
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
    PatientPreferences.objects.filter(patient=patient).update(
        phone_invalid_at=WEEKDAY_NOON_PARIS
    )
    ask(client_, "phone", NEW_MOBILE)
    # when
    enter(client_, pending_change(patient), texted_code())
    # then
    patient.refresh_from_db()
    assert (str(patient.phone), patient.phone_is_mobile) == (NEW_MOBILE, True)
    preferences = PatientPreferences.objects.get(patient=patient)
    assert preferences.phone_verified_at == WEEKDAY_NOON_PARIS
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
