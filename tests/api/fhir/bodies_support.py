"""Valid FHIR bodies the FHIR tests post: an Appointment and a
CommunicationRequest, each with the fields a test may override."""

import datetime

from django.utils import timezone


def new_appointment(patient, *, site=None, kind="consultation", days=5, **extra):
    starts = timezone.now().replace(microsecond=0) + datetime.timedelta(days=days)
    participants = [
        {"actor": {"reference": f"Patient/{patient.public_id}"}, "status": "accepted"}
    ]
    if site is not None:
        participants.append(
            {"actor": {"reference": f"Location/{site.public_id}"}, "status": "accepted"}
        )
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": starts.isoformat(),
        "end": (starts + datetime.timedelta(minutes=20)).isoformat(),
        "appointmentType": {"text": kind},
        "participant": participants,
        **extra,
    }


def new_request(patient, organization, *, slug="results-ready", **extra):
    return {
        "resourceType": "CommunicationRequest",
        "status": "active",
        "subject": {"reference": f"Patient/{patient.public_id}"},
        "category": [
            {
                "coding": [
                    {
                        "system": f"urn:liaison:org:{organization.slug}:topic",
                        "code": slug,
                    }
                ]
            }
        ],
        "payload": [{"contentString": "Your results are ready in the portal."}],
        **extra,
    }
