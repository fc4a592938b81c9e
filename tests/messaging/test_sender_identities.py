"""Sender identities in admin: secrets stored encrypted and never shown, numbers
never shared between clinics, each clinic's admins edit their own; system
checks make a missing identity or an unreadable secret visible."""

import io

import pytest
from cryptography.fernet import Fernet

from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from messaging.checks import check_credentials_key, check_sender_identities
from messaging.credentials import secret_decrypt
from messaging.models import SenderIdentity
from messaging.senders.services import sender_identity_save
from tests.clinic.factories import StaffMemberFactory
from tests.messaging.providers.fakes import TWILIO_SMS

pytestmark = pytest.mark.django_db
ACCOUNT = "AC" + "1" * 32
TOKEN = "auth-token-of-lilas"
NUMBER, OTHER_NUMBER = "+33757000001", "+33757000002"
TWILIO = {"sms": TWILIO_SMS.config("http://twilio.invalid")}


def raw_secret(identity: SenderIdentity) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_encrypted FROM messaging_senderidentity WHERE id = %s",
            [identity.pk],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def identity(organization):
    return sender_identity_save(
        identity=SenderIdentity(
            organization=organization,
            provider="twilio",
            phone_number=NUMBER,
            account_id=ACCOUNT,
        ),
        secret=TOKEN,
    )


def form_data(organization, **fields):
    return {
        "organization": organization.pk,
        "provider": "twilio",
        "phone_number": NUMBER,
        "messaging_service_sid": "",
        "account_id": "",
        "secret": "",
        **fields,
    }


def test_a_secret_is_stored_encrypted_and_decrypts_to_itself(identity):
    # when
    stored = raw_secret(identity)
    # then
    assert stored
    assert TOKEN not in stored
    assert secret_decrypt(stored) == TOKEN


def test_the_change_page_never_shows_the_stored_secret(staff_client, identity):
    # when
    response = staff_client.get(
        reverse("admin:messaging_senderidentity_change", args=[identity.pk])
    )
    # then
    assert response.status_code == 200
    assert TOKEN not in response.text
    assert raw_secret(identity) not in response.text
    assert "stored, encrypted" in response.text


def test_saving_without_a_secret_keeps_it_and_a_new_one_replaces_it(
    staff_client, organization, identity
):
    change = reverse("admin:messaging_senderidentity_change", args=[identity.pk])
    # when: saved with the secret left blank
    staff_client.post(change, form_data(organization, account_id=ACCOUNT))
    # then
    identity.refresh_from_db()
    assert secret_decrypt(identity.secret_encrypted) == TOKEN
    # when: a new one is typed, and shown again on an error
    staff_client.post(
        change, form_data(organization, account_id=ACCOUNT, secret="new-token")
    )
    refused = staff_client.post(
        change,
        form_data(organization, account_id="nope", secret="typed-secret-value"),
    )
    # then
    identity.refresh_from_db()
    assert secret_decrypt(identity.secret_encrypted) == "new-token"
    assert refused.status_code == 200
    assert "typed-secret-value" not in refused.text
    # when: the stored secret is removed
    staff_client.post(
        change, form_data(organization, account_id=ACCOUNT, clear_secret="on")
    )
    identity.refresh_from_db()
    assert identity.secret_encrypted == ""


def test_a_secret_without_credentials_key_is_refused_with_a_clear_error(
    staff_client, organization
):
    # when
    with override_settings(CREDENTIALS_KEY=[]):
        response = staff_client.post(
            reverse("admin:messaging_senderidentity_add"),
            form_data(organization, account_id=ACCOUNT, secret=TOKEN),
        )
    # then
    assert response.status_code == 200
    assert "CREDENTIALS_KEY is not set" in response.text
    assert not SenderIdentity.objects.exists()


def test_a_secret_needs_an_account_of_its_own(staff_client, organization):
    response = staff_client.post(
        reverse("admin:messaging_senderidentity_add"),
        form_data(organization, secret=TOKEN),
    )
    assert "A secret belongs to an account" in response.text
    assert not SenderIdentity.objects.exists()


def test_a_number_another_clinic_uses_with_the_provider_is_refused(
    staff_client, organization, other_organization
):
    """Its replies could not be routed; the other clinic is not named."""
    # given
    SenderIdentity.objects.create(
        organization=other_organization, provider="twilio", phone_number=NUMBER
    )
    # when
    refused = staff_client.post(
        reverse("admin:messaging_senderidentity_add"), form_data(organization)
    )
    other_provider = staff_client.post(
        reverse("admin:messaging_senderidentity_add"),
        form_data(organization, provider="sinch"),
    )
    # then
    assert "Another organization already uses this number" in refused.text
    assert other_organization.name not in refused.text
    assert other_provider.status_code == 302
    assert list(
        SenderIdentity.objects.filter(organization=organization).values_list(
            "provider", flat=True
        )
    ) == ["sinch"]


def test_clinic_admins_see_and_edit_only_their_own_identities(
    staff_client, organization, other_organization, identity
):
    # given
    theirs = SenderIdentity.objects.create(
        organization=other_organization, provider="sinch", phone_number=OTHER_NUMBER
    )
    # when
    listing = staff_client.get(reverse("admin:messaging_senderidentity_changelist"))
    their_page = staff_client.get(
        reverse("admin:messaging_senderidentity_change", args=[theirs.pk])
    )
    form = staff_client.get(reverse("admin:messaging_senderidentity_add"))
    # then
    assert [i.pk for i in listing.context["cl"].result_list] == [identity.pk]
    assert their_page.status_code == 404
    choices = form.context["adminform"].form.fields["organization"].queryset
    assert list(choices) == [organization]


def test_other_roles_cannot_open_the_identities(client, organization):
    coordinator = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(coordinator.user)
    response = client.get(reverse("admin:messaging_senderidentity_changelist"))
    assert response.status_code == 403


def test_admin_warns_of_a_clinic_without_a_sender_for_a_configured_provider(
    staff_client, organization
):
    with override_settings(MESSAGING_BACKENDS=TWILIO):
        log = staff_client.get(reverse("admin:messaging_delivery_changelist"))
        senders = staff_client.get(reverse("admin:messaging_senderidentity_changelist"))
    warning = f"No Twilio sender identity for {organization.name}"
    assert warning in log.text
    assert warning in senders.text


def test_the_check_names_clinics_without_a_sender(organization, other_organization):
    # given
    SenderIdentity.objects.create(
        organization=other_organization, provider="twilio", phone_number=NUMBER
    )
    # when
    with override_settings(MESSAGING_BACKENDS=TWILIO):
        (warning,) = check_sender_identities(databases=["default"])
        without_database = check_sender_identities()
    # then
    assert warning.id == "messaging.W003"
    assert "1 organization(s) have no twilio sender identity (lilas)" in warning.msg
    assert without_database == []


def test_the_check_reports_secrets_the_key_cannot_read(identity):
    with override_settings(
        MESSAGING_BACKENDS={}, CREDENTIALS_KEY=[Fernet.generate_key().decode()]
    ):
        (error,) = check_sender_identities(databases=["default"])
    assert error.id == "messaging.E003"
    assert f"sender identities [{identity.pk}]" in error.msg
    assert TOKEN not in error.msg


def test_a_malformed_key_is_an_error_that_does_not_quote_it():
    with override_settings(CREDENTIALS_KEY=["not-a-fernet-key"]):
        (error,) = check_credentials_key()
    assert error.id == "messaging.E002"
    assert "not-a-fernet-key" not in error.msg


def test_rotation_encrypts_every_secret_under_the_new_key(identity, settings):
    # given: a new key put first, the old one kept to read
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIALS_KEY = [new_key, *settings.CREDENTIALS_KEY]
    out = io.StringIO()
    # when
    call_command("sender_secrets_rotate", stdout=out)
    # then: the new key alone reads it
    settings.CREDENTIALS_KEY = [new_key]
    identity.refresh_from_db()
    assert secret_decrypt(identity.secret_encrypted) == TOKEN
    assert "1 stored secret(s)" in out.getvalue()
