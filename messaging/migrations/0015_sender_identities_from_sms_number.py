"""Organization.sms_number becomes sender identities, so nothing configured is lost.

An organization's ``sms_number`` (where its patients' SMS were routed) becomes
its identity for every provider the deployment is configured with (Twilio when
none is: the number is kept, and staff can change the provider in admin).
A deployment of exactly one organization without ``sms_number`` that sent from
``TWILIO_FROM`` / ``SINCH_FROM`` keeps sending from that number: it becomes the
organization's identity for that provider. With several organizations the
global number is not copied: sharing it is what made inbound SMS unroutable,
and the system check messaging.W003 names those left without an identity.
"""

import os

from django.conf import settings
from django.db import migrations

PROVIDERS = ("twilio", "sinch")


def _backend_paths(config):
    if not isinstance(config, dict):
        return
    yield config.get("BACKEND", "")
    options = config.get("OPTIONS") or {}
    for role in ("primary", "secondary"):
        yield from _backend_paths(options.get(role))


def configured_providers():
    """The providers MESSAGING_BACKENDS names, for every channel."""
    paths = [
        path
        for config in getattr(settings, "MESSAGING_BACKENDS", {}).values()
        for path in _backend_paths(config)
    ]
    return [p for p in PROVIDERS if any(f".{p}." in path for path in paths)]


def forwards(apps, schema_editor):
    Organization = apps.get_model("clinic", "Organization")
    SenderIdentity = apps.get_model("messaging", "SenderIdentity")
    providers = configured_providers()
    organizations = list(Organization.objects.all())
    for organization in organizations:
        if organization.sms_number:
            for provider in providers or ["twilio"]:
                SenderIdentity.objects.get_or_create(
                    organization=organization,
                    provider=provider,
                    defaults={"phone_number": organization.sms_number},
                )
    if len(organizations) == 1 and not organizations[0].sms_number:
        global_numbers = {
            "twilio": os.environ.get("TWILIO_FROM", ""),
            "sinch": os.environ.get("SINCH_FROM", ""),
        }
        for provider, number in global_numbers.items():
            if number.strip():
                SenderIdentity.objects.get_or_create(
                    organization=organizations[0],
                    provider=provider,
                    defaults={"phone_number": number.strip()},
                )


def backwards(apps, schema_editor):
    """Each organization's number back, its Twilio one first."""
    Organization = apps.get_model("clinic", "Organization")
    SenderIdentity = apps.get_model("messaging", "SenderIdentity")
    for identity in SenderIdentity.objects.order_by("-provider"):
        Organization.objects.filter(pk=identity.organization_id, sms_number="").update(
            sms_number=identity.phone_number
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0009_appointment_sync_index"),
        ("messaging", "0014_sender_identity_inbound_receipt"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
