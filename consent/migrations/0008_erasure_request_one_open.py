from django.conf import settings
from django.db import migrations, models


def close_duplicate_open_requests(apps, schema_editor):
    """Two asks at the same instant could leave two open requests before the
    constraint: the earliest stays open, the others are closed as withdrawn on
    the day they were made, with a note saying which one they repeated."""
    ErasureRequest = apps.get_model("consent", "ErasureRequest")
    kept: dict[int, object] = {}
    for request in ErasureRequest.objects.filter(status="open").order_by(
        "patient_id", "requested_at", "pk"
    ):
        first = kept.setdefault(request.patient_id, request)
        if first is request:
            continue
        request.status = "withdrawn"
        request.withdrawn_at = request.requested_at
        request.note = f"Duplicate of erasure request {first.public_id}."
        request.save(update_fields=["status", "withdrawn_at", "note"])


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0007_erasure_request_withdrawal"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(close_duplicate_open_requests, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="erasurerequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "open")),
                fields=("patient",),
                name="consent_erasurerequest_one_open",
            ),
        ),
    ]
