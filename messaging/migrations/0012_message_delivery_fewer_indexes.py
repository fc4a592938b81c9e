# Fewer indexes on messages and deliveries: every one is written for each
# row, and a campaign writes 100,000 messages and their deliveries at a time.
#
# - Dropped, covered by a wider index that leads with the same column:
#   message.organization (the unique (organization, authenticity_code)),
#   message.patient (messaging_msg_patient (patient, -created_at)),
#   delivery.message (the unique (message, channel)).
# - Replaced by partial indexes of the rows that have a value:
#   message.conversation and message.sender (NULL for most messages).
#
# The fields' db_index=False changes the state only; in the database the
# indexes are dropped by name (the names Django gave them on both databases).
# Altering the fields through the schema editor would also drop and re-add
# their foreign-key constraints, validating every row again.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0009_appointment_sync_index'),
        ('consent', '0004_erasure_request'),
        ('messaging', '0011_delivery_organization_message_created_at_required'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='delivery',
                    name='message',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='messaging.message'),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='conversation',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='messages', to='messaging.conversation'),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clinic.organization'),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='patient',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='clinic.patient'),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='sender',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "messaging_delivery_message_id_e5d46cf3"',
                    reverse_sql='CREATE INDEX "messaging_delivery_message_id_e5d46cf3" ON "messaging_delivery" ("message_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "messaging_message_conversation_id_3db4d3d1"',
                    reverse_sql='CREATE INDEX "messaging_message_conversation_id_3db4d3d1" ON "messaging_message" ("conversation_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "messaging_message_organization_id_360faf91"',
                    reverse_sql='CREATE INDEX "messaging_message_organization_id_360faf91" ON "messaging_message" ("organization_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "messaging_message_patient_id_6d53f108"',
                    reverse_sql='CREATE INDEX "messaging_message_patient_id_6d53f108" ON "messaging_message" ("patient_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "messaging_message_sender_id_7a7088e6"',
                    reverse_sql='CREATE INDEX "messaging_message_sender_id_7a7088e6" ON "messaging_message" ("sender_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('conversation__isnull', False)), fields=['conversation'], name='messaging_msg_conversation'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('sender__isnull', False)), fields=['sender'], name='messaging_msg_sender'),
        ),
    ]
