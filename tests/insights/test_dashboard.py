"""The dashboard page, its drill-downs and CSV exports: who may open them, and
that one organization's staff see nothing of another's."""

import csv
import io
import re

import pytest

from django.urls import reverse
from django.utils import translation

from tests.clinic.factories import PatientFactory, SiteFactory, StaffMemberFactory
from tests.insights.builders import (
    IN_PERIOD,
    conversation,
    delivery,
    hours,
    message,
    topic,
    withdrawal,
)

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}
URL = "/admin/insights/dashboard/"


@pytest.fixture
def lilas(organization):
    """Lilas: 2 SMS (1 delivered), one conversation answered in 2 hours."""
    patient = PatientFactory(organization=organization, identifier="LILAS-1")
    results = topic(organization, "results")
    delivery(message(patient, results), "sms", "delivered")
    delivery(message(patient, results), "sms", "failed")
    conversation(
        patient,
        first_response_at=IN_PERIOD + hours(2),
        status="closed",
        closed_at=IN_PERIOD + hours(3),
        staff_reply_count=1,
    )
    return organization


@pytest.fixture
def riverside(other_organization):
    """Riverside: 3 SMS, all failed, one conversation answered in 30 hours."""
    patient = PatientFactory(organization=other_organization, identifier="RIVER-1")
    results = topic(other_organization, "results")
    for _ in range(3):
        delivery(message(patient, results), "sms", "failed")
    conversation(patient, first_response_at=IN_PERIOD + hours(30))
    return other_organization


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_the_page_shows_the_figures_with_charts_and_definitions(
    staff_client, lilas, riverside
):
    # when
    response = staff_client.get(URL, PERIOD)
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 h 00 min" in page  # Lilas's median; Riverside's 30 h is not there
    assert "1 d 6 h" not in page
    assert "1 of 2" in page  # SMS delivered: 1 of 2 (Riverside's 3 not counted)
    assert "<svg" in page  # charts, with a text alternative
    assert "<title" in page
    # no inline script (CSP allows only the app's own files)
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page))
    assert "share the provider confirmed delivered" in page  # a definition
    assert "RIVER-1" not in page


def test_the_default_period_is_the_last_90_days(staff_client, lilas):
    # when
    response = staff_client.get(URL)
    # then
    assert response.status_code == 200
    scope = response.context["scope"]
    assert (scope.end - scope.start).days == 90


def test_a_role_without_the_permission_is_refused(client, organization):
    # given
    clinician = StaffMemberFactory(organization=organization, role="clinician")
    client.force_login(clinician.user)
    # when / then
    assert client.get(URL).status_code == 403
    assert client.get(URL + "export.csv").status_code == 403
    assert client.get(URL + "rows/fcr/").status_code == 403


def test_staff_cannot_choose_another_organization_or_its_site(
    staff_client, lilas, riverside
):
    # given
    their_site = SiteFactory(organization=riverside)
    # when: the organization parameter is not a filter staff have
    page = staff_client.get(URL, {**PERIOD, "organization": riverside.pk})
    # then: still their own figures
    assert page.context["scope"].organization == lilas
    # when: another organization's site
    refused = staff_client.get(URL, {**PERIOD, "site": their_site.pk})
    # then: an error, and no figure at all
    assert refused.status_code == 200
    assert refused.context.get("scope") is None
    assert refused.context["form"].errors["site"]
    assert (
        staff_client.get(
            URL + "rows/delivery_rate.sms/", {**PERIOD, "site": their_site.pk}
        ).status_code
        == 404
    )
    assert (
        staff_client.get(
            URL + "export.csv", {**PERIOD, "site": their_site.pk}
        ).status_code
        == 404
    )


def test_drill_down_lists_the_rows_behind_the_figure(staff_client, lilas, riverside):
    # when
    response = staff_client.get(URL + "rows/delivery_rate.sms/", PERIOD)
    # then: the 2 Lilas SMS, 1 counted as delivered; nothing of Riverside
    assert response.status_code == 200
    table = response.context["table"]
    assert len(table) == 2
    assert sum(row["counted"] for row in table) == 1
    page = response.content.decode()
    assert "LILAS-1" in page
    assert "RIVER-1" not in page


def test_opt_out_rows_are_the_patients_sent_the_topic(staff_client, organization):
    # given: two patients sent "results"; one withdrew, and someone not sent it
    results = topic(organization, "results")
    sent = [PatientFactory(organization=organization) for _ in range(2)]
    for patient in sent:
        message(patient, results)
    withdrawal(sent[0], topic=results)
    withdrawal(PatientFactory(organization=organization), topic=results)
    # when
    response = staff_client.get(URL + f"rows/opt_out.topic.{results.pk}/", PERIOD)
    # then: the two patients sent it, the one who withdrew counted
    table = response.context["table"]
    assert len(table) == 2
    assert sum(row["counted"] for row in table) == 1
    page = staff_client.get(URL, PERIOD).content.decode()
    assert "1 of 2" in page


def test_unknown_figure_is_not_found(staff_client, lilas):
    assert staff_client.get(URL + "rows/nope/", PERIOD).status_code == 404


def test_figures_csv(staff_client, lilas, riverside):
    # when
    response = staff_client.get(URL + "export.csv", PERIOD)
    # then
    assert response["Content-Type"].startswith("text/csv")
    lines = _csv(response)
    header, rows = (
        lines[0],
        {line[4]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]},
    )
    assert header[:7] == [
        "organization",
        "site",
        "start",
        "end",
        "key",
        "figure",
        "value",
    ]
    # SMS: 1 delivered of 2 = 50 %
    sms = rows["delivery_rate.sms"]
    assert (sms["value"], sms["numerator"], sms["denominator"]) == ("50.0", "1", "2")
    assert sms["organization"] == "lilas"
    # median response 2 h = 7,200 s
    assert rows["frt_median"]["value"] == "7200"
    # no email: empty, not an error
    assert rows["delivery_rate.email"]["value"] == ""
    assert rows["fcr"]["value"] == "100.0"


def test_rows_csv(staff_client, lilas, riverside):
    # when
    response = staff_client.get(URL + "rows/delivery_rate.sms/export.csv", PERIOD)
    # then: a header and Lilas's two SMS, delivered one counted
    lines = _csv(response)
    assert len(lines) == 3
    assert lines[0][-1] == "counted"
    body = lines[1:]
    assert {line[1] for line in body} == {"LILAS-1"}
    assert sorted(line[-1] for line in body) == ["no", "yes"]


def test_csv_cells_cannot_run_as_formulas(staff_client, organization):
    # given: an identifier a spreadsheet would take for a formula
    patient = PatientFactory(organization=organization, identifier="=HYPERLINK(1)")
    delivery(message(patient, topic(organization, "results")), "sms", "sent")
    # when
    lines = _csv(staff_client.get(URL + "rows/delivery_rate.sms/export.csv", PERIOD))
    # then
    assert lines[1][1] == "'=HYPERLINK(1)"


def test_a_superuser_picks_the_organization(client, superuser, lilas, riverside):
    # given
    client.force_login(superuser)
    # when: none chosen yet
    first = client.get(URL)
    # then
    assert first.status_code == 200
    assert first.context.get("scope") is None
    # when
    chosen = client.get(URL, {**PERIOD, "organization": riverside.pk})
    # then
    assert chosen.context["scope"].organization == riverside
    assert "1 d 6 h" in chosen.content.decode()  # Riverside's 30 h
    rows = client.get(
        URL + "rows/delivery_rate.sms/", {**PERIOD, "organization": riverside.pk}
    )
    assert len(rows.context["table"]) == 3


def test_the_admin_index_links_to_the_dashboard(staff_client):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:insights_dashboard_changelist") in page


def test_the_page_in_french(staff_client, lilas):
    # when (override: the language the request activates ends with the test)
    with translation.override("fr"):
        response = staff_client.get(URL, PERIOD, HTTP_ACCEPT_LANGUAGE="fr")
    # then
    page = response.content.decode()
    assert "Taux de distribution par canal" in page
    assert "1 sur 2" in page


def test_the_start_date_is_labelled_as_a_date_in_french(staff_client, lilas):
    """The period's "from" was translated as a message's sender ("expéditeur")."""
    # when
    with translation.override("fr"):
        response = staff_client.get(URL, PERIOD, HTTP_ACCEPT_LANGUAGE="fr")
    # then
    page = response.content.decode()
    assert '<label for="id_start">Du</label>' in page
    assert '<label for="id_end">Au (inclus)</label>' in page
    assert '<label for="id_start">Expéditeur' not in page


def test_a_figure_with_nothing_to_count_says_so_in_words(staff_client, organization):
    # when: an organization with no data in the period
    page = staff_client.get(URL, PERIOD).content.decode()
    # then: "no data", never "0 of 0" or a rate
    cells = re.findall(
        r'<td class="insights-value-cell">(.*?)</td>\s*<td>(.*?)</td>', page
    )
    assert cells
    for value, basis in cells:
        assert value == "—"
        assert basis.startswith("no data"), basis
