# The KPI dashboard's attrition figure (insights.kpis.lapsed_patients) asks,
# for every patient, "did they write, or read a message, in the window?". On
# 100,000 patients and 2,000,000 messages (bench/insights.py) the existing
# (patient, -created_at) index made each probe read the patient's messages
# from the table (1.8 s for the query); these two partial indexes answer it
# from the index alone (0.6 s). Partial: only read messages, only messages
# from patients (about 5 % of rows).
#
# Database only: Message.Meta does not list them (the dashboard owns them, and
# keeping them out of the model state leaves messaging/models.py to its owners).

from django.db import migrations, models
from django.db.models import Q

INDEXES = [
    models.Index(
        fields=["patient", "read_at"],
        condition=Q(read_at__isnull=False),
        name="messaging_msg_patient_read",
    ),
    models.Index(
        fields=["patient", "created_at"],
        condition=Q(direction="in"),
        name="messaging_msg_patient_in",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_conversation_service_levels_notes_saved_replies"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddIndex(model_name="message", index=index)
                for index in INDEXES
            ]
        )
    ]
