"""Staff invite; the patient (or a caregiver) creates an account bound to the record."""

import datetime

import pytest
import time_machine

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from clinic.models import Caregiver, Invitation, Patient
from clinic.services import patient_save
from consent.services import preferences_get
from messaging.backends import locmem
from messaging.models import Message
from portal.enrolment import EnrolmentError, invitation_send
from tests.clinic.factories import PatientFactory, StaffMemberFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-passphrase-2026"


@pytest.fixture(autouse=True)
def _deliver(on_commit_at_once):
    locmem.outbox.clear()


@pytest.fixture
def patient(organization):
    TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )
    patient = patient_save(
        patient=PatientFactory.build(
            organization=organization,
            birth_date=datetime.date(2012, 4, 5),
            phone="+33612345678",
        )
    )
    preferences = preferences_get(patient=patient)
    preferences.email_verified_at = timezone.now()
    preferences.save()
    return patient


def link_from_email() -> str:
    body = mail.outbox[-1].body
    return body[body.index("/portal/enrol/") :].split()[0].rstrip(".")


def enrol_post(client, url, **overrides):
    data = {
        "birth_date": "2012-04-05",
        "username": "lou",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    return client.post(url, data | overrides)


def test_a_patient_enrols_through_the_invitation_sent_by_the_pipeline(client, patient):
    # given
    invitation_send(patient=patient)
    url = link_from_email()
    # when
    response = enrol_post(client, url)
    # then
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.user.username == "lou"
    assert enrol_post(client, url).status_code == 400  # single use


def test_a_wrong_birth_date_is_refused_and_locks_after_five(client, patient):
    invitation_send(patient=patient)
    url = link_from_email()
    for _ in range(5):
        response = enrol_post(client, url, birth_date="2011-01-01")
        assert "does not match" in response.text
    assert "locked" in client.get(url).text
    patient.refresh_from_db()
    assert patient.user is None


def test_an_expired_invitation_is_refused(client, patient):
    invitation_send(patient=patient)
    url = link_from_email()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        response = client.get(url)
    assert response.status_code == 400
    assert "expired" in response.text


def test_a_tampered_link_is_refused(client, patient):
    invitation_send(patient=patient)
    url = link_from_email()
    tampered = url[:-2] + ("A" if url[-2] != "A" else "B") + "/"
    assert client.get(tampered).status_code == 400


def test_a_caregiver_is_invited_with_scopes_and_time_box(client, patient):
    until = timezone.now() + datetime.timedelta(days=30)
    invitation_send(
        patient=patient,
        caregiver_email="parent@example.org",
        relationship="parent",
        can_see_messages=False,
        access_until=until,
    )
    assert mail.outbox[-1].to == ["parent@example.org"]
    enrol_post(client, link_from_email(), username="parent")
    link = Caregiver.objects.get(patient=patient)
    assert (link.user.username, link.can_see_messages, link.valid_until) == (
        "parent",
        False,
        until,
    )
    patient.refresh_from_db()
    assert patient.user is None


def test_a_patient_with_an_account_is_not_invited_again(patient):
    from tests.clinic.factories import UserFactory

    Patient.objects.filter(pk=patient.pk).update(user=UserFactory())
    patient.refresh_from_db()
    with pytest.raises(EnrolmentError, match="already has"):
        invitation_send(patient=patient)
    assert not Invitation.objects.exists()


def test_staff_invite_from_the_patient_list(client, organization, patient):
    staff = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(staff.user)
    response = client.post(
        reverse("admin:clinic_patient_changelist"),
        {"action": "invite_to_portal", "_selected_action": [patient.pk]},
        follow=True,
    )
    assert "Invited 1 patient." in response.text
    assert Invitation.objects.get().patient == patient
    assert "/portal/enrol/" in mail.outbox[-1].body


def _unverified(organization, **fields):
    TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )
    return patient_save(
        patient=PatientFactory.build(
            organization=organization, birth_date=datetime.date(2012, 4, 5), **fields
        )
    )


def test_an_address_nobody_verified_yet_still_gets_the_invitation(client, organization):
    """Staff typed the address at the desk: the invitation link is its proof."""
    patient = _unverified(organization, email="new@example.org", phone="")
    invitation_send(patient=patient)
    assert mail.outbox[-1].to == ["new@example.org"]
    assert not preferences_get(patient=patient).email_verified_at
    # when the patient enrols through it
    enrol_post(client, link_from_email())
    # then the address is proven
    assert preferences_get(patient=patient).email_verified_at is not None
    assert preferences_get(patient=patient).phone_verified_at is None


def test_an_address_changed_since_the_invitation_is_not_proven(client, organization):
    patient = _unverified(organization, email="first@example.org", phone="")
    invitation_send(patient=patient)
    link = link_from_email()
    patient.email = "second@example.org"
    patient_save(patient=patient)
    enrol_post(client, link)
    patient.refresh_from_db()
    assert patient.user is not None
    assert preferences_get(patient=patient).email_verified_at is None


def test_a_patient_without_email_or_mobile_cannot_be_invited(organization):
    patient = _unverified(organization, email="", phone="")
    with pytest.raises(EnrolmentError, match="no email address or mobile number"):
        invitation_send(patient=patient)
    assert not Invitation.objects.filter(patient=patient).exists()


def test_staff_never_see_the_invitation_link_and_it_is_erased_once_used(
    client, organization, patient
):
    # given: a coordinator invites the patient
    staff = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(staff.user)
    client.post(
        reverse("admin:clinic_patient_changelist"),
        {"action": "invite_to_portal", "_selected_action": [patient.pk]},
    )
    url = link_from_email()
    token = url.rstrip("/").rsplit("/", 1)[-1]
    message = Message.objects.get(patient=patient)
    delivery = message.deliveries.get(channel="email")
    # then: the pages that show the message and its delivery do not hold it
    for page in (
        reverse("admin:messaging_message_change", args=[message.pk]),
        reverse("admin:messaging_delivery_change", args=[delivery.pk]),
        reverse("admin:clinic_patient_change", args=[patient.pk]),
    ):
        response = client.get(page)
        assert response.status_code == 200, page
        assert token not in response.text, page
    assert token not in message.body
    assert token not in delivery.body
    assert delivery.secret_body == ""  # sent: the delivery's copy went
    # when: the patient enrols through it
    client.logout()
    assert enrol_post(client, url).status_code == 302
    # then: the message's own copy goes too
    message.refresh_from_db()
    assert message.secret_body == ""
