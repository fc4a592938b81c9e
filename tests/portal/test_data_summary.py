"""My data as a summary to read and print: the page and its PDF."""

import datetime
import io
import logging
import re

import pytest
from pypdf import PdfReader

from clinic.models import AccessAudit, Caregiver
from clinic.services import access_audit_record
from consent.services import consent_grant, consent_withdraw
from feedback.models import SurveyResponse
from messaging.models import Delivery, Message
from portal.summary.content import summary_build
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    PatientFactory,
    SiteFactory,
    StaffMemberFactory,
    UserFactory,
)
from tests.consent.factories import TopicFactory
from tests.feedback.factories import SurveyFactory

pytestmark = pytest.mark.django_db

PAGE = "/portal/data/summary/"
PDF = "/portal/data/summary.pdf"
# 08:30 UTC is 09:30 in Paris in March (UTC+1).
VISIT = datetime.datetime(2030, 3, 14, 8, 30, tzinfo=datetime.UTC)


def _message(patient, topic, subject):
    message = Message.objects.create(
        organization=patient.organization,
        patient=patient,
        topic=topic,
        origin="staff",
        sensitivity="public",
        language="fr",
        subject=subject,
        body="Texte du message",
        why={"purpose": "care", "lawful_basis": "care", "consent_event_id": None},
    )
    Delivery.objects.create(message=message, channel="sms", status="delivered")
    return message


@pytest.fixture
def record(patient_user, organization):
    """Camille's record: a visit with Dr Anne Martin, a refused campaign
    topic, a message, a survey answered, a parent acting for her."""
    _, patient = patient_user
    patient.family_name = "Durand"
    patient.save()
    practitioner = StaffMemberFactory(
        organization=organization, user__first_name="Anne", user__last_name="Martin"
    )
    site = SiteFactory(organization=organization, name="Centre des Lilas")
    AppointmentFactory(
        patient=patient,
        site=site,
        practitioner=practitioner,
        kind="vaccination",
        starts_at=VISIT,
        ends_at=VISIT + datetime.timedelta(minutes=20),
    )
    AppointmentFactory(
        patient=patient,
        site=site,
        kind="consultation",
        starts_at=datetime.datetime(2020, 1, 9, 14, 0, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2020, 1, 9, 14, 30, tzinfo=datetime.UTC),
        status="fulfilled",
    )
    campaigns = TopicFactory(
        organization=organization,
        slug="voeux",
        purpose="marketing",
        name_fr="Vœux et événements",
        name_en="Greetings and events",
    )
    consent_grant(patient=patient, topic=campaigns, channel="email", source="portal")
    consent_withdraw(patient=patient, topic=campaigns, channel="sms", source="portal")
    care = TopicFactory(organization=organization, slug="rappels", purpose="care")
    _message(patient, care, "Votre rendez-vous approche")
    SurveyResponse.objects.create(
        organization=organization,
        survey=SurveyFactory(organization=organization),
        patient=patient,
        complete=True,
    )
    CaregiverFactory(
        user=UserFactory(username="maman"),
        patient=patient,
        relationship=Caregiver.Relationship.PARENT,
    )
    return patient


@pytest.fixture
def stranger(organization, other_organization):
    """Two other patients: one of the same clinic, one of another."""
    neighbour = PatientFactory(
        organization=organization, given_name="Bérénice", family_name="Voisin"
    )
    AppointmentFactory(
        patient=neighbour,
        practitioner=StaffMemberFactory(
            organization=organization,
            user__first_name="Bruno",
            user__last_name="Autre",
        ),
        starts_at=VISIT,
        ends_at=VISIT + datetime.timedelta(minutes=20),
    )
    topic = TopicFactory(organization=organization, slug="autre", purpose="care")
    _message(neighbour, topic, "Sujet du voisin")
    far = PatientFactory(organization=other_organization, given_name="Zoé")
    _message(far, TopicFactory(organization=other_organization), "Sujet lointain")
    return neighbour


STRANGERS = ["Bérénice", "Voisin", "Bruno Autre", "Sujet du voisin", "Zoé", "lointain"]


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    # Table cells wrap lines: compare words, not line breaks.
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_page_says_it_all_in_french(patient_client, record):
    # when
    response = patient_client.get(PAGE)
    # then
    assert response.status_code == 200
    text = response.text
    assert "Résumé de vos données" in text
    assert "Clinique des Lilas" in text
    assert "Camille Durand" in text
    # The visit, in the patient's time zone and language.
    assert "14 mars 2030 09:30" in text
    assert "Anne Martin" in text
    assert "Centre des Lilas" in text
    assert "Vaccination" in text
    assert "9 janvier 2020" in text
    # The decision: campaigns by SMS refused, by email allowed.
    assert "Vœux et événements" in text
    assert re.search(
        r"<th scope=\"row\">Vœux et événements</th><td>Oui</td><td>Non</td>", text
    )
    assert "Votre rendez-vous approche" in text
    assert "SMS : Remis" in text
    assert "Votre avis compte" in text
    assert "maman" in text
    assert "Généré le" in text


def test_the_page_in_english(patient_client, record):
    # given
    patient_client.cookies["django_language"] = "en"
    # when
    text = patient_client.get(PAGE).text
    # then
    assert "Summary of your data" in text
    assert "March 14, 2030, 9:30 a.m." in text
    assert "Anne Martin" in text
    assert "Greetings and events" in text
    assert re.search(
        r"<th scope=\"row\">Greetings and events</th><td>Yes</td><td>No</td>", text
    )
    assert "Your appointments" in text
    assert "Generated on" in text


def test_the_page_is_not_cached_audited_and_get_only(patient_client, record):
    # when
    response = patient_client.get(PAGE)
    # then
    assert "no-store" in response["Cache-Control"]
    audit = AccessAudit.objects.get(patient=record)
    assert audit.action == AccessAudit.Action.EXPORT
    assert "Summary page" in audit.detail
    assert patient_client.post(PAGE).status_code == 405
    assert patient_client.post(PDF).status_code == 405


def test_the_pdf_holds_the_same_words(patient_client, record):
    # when
    response = patient_client.get(PDF)
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "no-store" in response["Cache-Control"]
    text = _pdf_text(response.content)
    for words in (
        "Résumé de vos données",
        "Clinique des Lilas",
        "Anne Martin",
        "14 mars 2030 09:30",
        "Vœux et événements",
        "Votre rendez-vous approche",
        "Votre avis compte",
    ):
        assert words in text, words
    assert "Summary PDF" in AccessAudit.objects.get(patient=record).detail


def test_the_pdf_in_english(patient_client, record):
    patient_client.cookies["django_language"] = "en"
    text = _pdf_text(patient_client.get(PDF).content)
    assert "Summary of your data" in text
    assert "Greetings and events" in text
    assert "March 14, 2030, 9:30 a.m." in text


def test_the_pdf_file_name_holds_only_a_date(patient_client, record):
    # when
    disposition = patient_client.get(PDF)["Content-Disposition"]
    # then
    assert re.fullmatch(
        r'attachment; filename="liaison-summary-\d{4}-\d{2}-\d{2}\.pdf"', disposition
    )
    for secret in ("Camille", "Durand", str(record.public_id), record.identifier):
        assert secret not in disposition


def test_another_patients_data_never_appears(patient_client, record, stranger):
    # when
    page = patient_client.get(PAGE).text
    pdf = _pdf_text(patient_client.get(PDF).content)
    # then
    for words in STRANGERS:
        assert words not in page, words
        assert words not in pdf, words
    assert "Anne Martin" in page


def _act_for(client, record, *, every_scope):
    link = Caregiver.objects.get(patient=record)
    link.can_see_messages = link.can_see_appointments = every_scope
    link.can_see_results = link.can_manage_preferences = every_scope
    link.save()
    client.force_login(link.user)
    session = client.session
    session["portal_acting_for"] = str(record.public_id)
    session.save()


def test_a_caregiver_with_a_narrower_scope_is_refused(client, record):
    """As for the JSON download: the summary covers the whole record."""
    # given: the parent may see only part of Camille's record
    _act_for(client, record, every_scope=False)
    # then
    assert client.get(PAGE).status_code == 404
    assert client.get(PDF).status_code == 404
    assert not AccessAudit.objects.exists()


def test_a_caregiver_with_every_scope_reads_it_like_the_json(client, record):
    # given: the parent may see every part of Camille's record
    _act_for(client, record, every_scope=True)
    # when
    links = client.get("/portal/data/").text
    page = client.get(PAGE)
    # then: the same people as the JSON download, recorded the same way
    assert f'href="{PAGE}"' in links
    assert page.status_code == 200
    assert "Anne Martin" in page.text
    assert client.get(PDF).status_code == 200
    assert AccessAudit.objects.count() == 2


def test_anonymous_is_sent_to_log_in(client):
    assert client.get(PAGE).status_code == 302
    assert client.get(PDF).status_code == 302


def test_no_health_data_in_the_logs(patient_client, record, caplog):
    # when
    with caplog.at_level(logging.DEBUG):
        patient_client.get(PAGE)
        patient_client.get(PDF)
    # then
    logged = " ".join(r.getMessage() for r in caplog.records)
    for words in ("Anne Martin", "Vaccination", "vaccination", "Votre rendez-vous"):
        assert words not in logged


def test_my_data_links_both(patient_client):
    text = patient_client.get("/portal/data/").text
    assert f'href="{PAGE}"' in text
    assert f'href="{PDF}"' in text


def test_a_section_the_summary_does_not_know_is_named(record):
    """A section another app adds to the export later is pointed at, not lost."""
    from consent.gdpr.export import export_patient

    document = export_patient(patient=record)
    document["lab_orders"] = [{"x": 1}]
    summary = summary_build(document=document, organization_id=record.organization_id)
    assert "lab_orders" in summary.sections[-1].intro


def test_the_access_log_is_summarised_newest_first(patient_client, record):
    # given
    for n in range(24):
        access_audit_record(
            patient=record, action=AccessAudit.Action.VIEW_MESSAGE, actor_label=f"R{n}"
        )
    access_audit_record(
        patient=record, action=AccessAudit.Action.VIEW_RECORD, actor_label="Dr Lemaître"
    )
    patient_client.cookies["django_language"] = "en"
    # when
    text = patient_client.get(PAGE).text
    # then
    assert "Entries in all: 25." in text
    assert "<td>Dr Lemaître</td><td>viewed the record</td>" in text
    assert "<td>R23</td>" in text
    assert "<td>R4</td>" not in text  # older than the newest 20


def test_message_texts_and_secrets_stay_out(patient_client, record):
    """Subjects only: a message's text, and the secret it masks, are in the
    secure inbox, never in the summary."""
    # given
    message = Message.objects.get(patient=record)
    message.body = "Votre code : ******"
    message.secret_body = "Votre code : 918273"
    message.save()
    # when
    page = patient_client.get(PAGE).text
    pdf = _pdf_text(patient_client.get(PDF).content)
    # then
    for text in (page, pdf):
        assert "Votre rendez-vous approche" in text
        assert "918273" not in text
        assert "Votre code" not in text


def test_the_page_signs_out_an_idle_patient_like_the_others(
    patient_client, record, settings
):
    settings.SESSION_IDLE_TIMEOUT = 900
    text = patient_client.get(PAGE).text
    assert "session-timeout.js" in text
    assert 'data-timeout="900"' in text
