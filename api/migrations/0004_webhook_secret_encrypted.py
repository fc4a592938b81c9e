"""Webhook signing secrets: encrypted under CREDENTIALS_KEY, no longer in clear.

Adds the encrypted column and the hint, encrypts every existing secret with
the key of the environment (``messaging.credentials``), then drops the clear
column. Without a key and with secrets to encrypt it stops with a clear
error, before anything is lost.
"""

from django.db import migrations, models


def secrets_encrypt(apps, schema_editor):
    from messaging.credentials import secret_encrypt

    subscription_model = apps.get_model("api", "WebhookSubscription")
    rows = list(subscription_model.objects.exclude(secret="").only("pk", "secret"))
    for row in rows:
        row.secret_encrypted = secret_encrypt(row.secret)
        row.secret_last4 = row.secret[-4:]
    subscription_model.objects.bulk_update(
        rows, ["secret_encrypted", "secret_last4"], batch_size=500
    )


def secrets_decrypt(apps, schema_editor):
    from messaging.credentials import secret_decrypt

    subscription_model = apps.get_model("api", "WebhookSubscription")
    rows = list(
        subscription_model.objects.exclude(secret_encrypted="").only(
            "pk", "secret_encrypted"
        )
    )
    for row in rows:
        row.secret = secret_decrypt(row.secret_encrypted)
    subscription_model.objects.bulk_update(rows, ["secret"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0003_apikey_purposes"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhooksubscription",
            name="secret_encrypted",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="secret_last4",
            field=models.CharField(default="", editable=False, max_length=4),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.RunPython(secrets_encrypt, secrets_decrypt),
        migrations.RemoveField(
            model_name="webhooksubscription",
            name="secret",
        ),
    ]
