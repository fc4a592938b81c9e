"""Survey invitations: sent through the pipeline, links signed, single use, expiring."""

import datetime
import re

import pytest
import time_machine

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from feedback.models import SurveyInvitation
from feedback.services import response_submit, survey_invite
from feedback.tokens import InvitationTokenError, invitation_read, invitation_token
from messaging.models import Delivery
from tests.clinic.factories import OrganizationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_invitation_goes_through_messaging_with_the_link(survey, patient):
    invitation = survey_invite(survey=survey, patient=patient)
    message = invitation.message
    assert message.topic == survey.topic
    link = settings.SITE_URL + f"/s/{invitation_token(invitation)}/"
    assert link in message.body
    # Nothing about the survey's subject or the patient's care in the URL.
    assert re.fullmatch(r"/s/[A-Za-z0-9_\-:]+/", link.removeprefix(settings.SITE_URL))
    assert Delivery.objects.filter(message=message).exists()


def test_same_trigger_invites_once(survey, patient):
    first = survey_invite(survey=survey, patient=patient, trigger_ref="appointment:1")
    again = survey_invite(survey=survey, patient=patient, trigger_ref="appointment:1")
    assert first.pk == again.pk
    assert SurveyInvitation.objects.count() == 1


def test_not_asked_again_within_the_survey_period(
    survey, patient, django_capture_on_commit_callbacks
):
    """The organization's survey period is a consent rule: the second
    invitation within it is planned, then suppressed with the reason."""
    with django_capture_on_commit_callbacks(execute=True):  # the first is delivered
        first = survey_invite(survey=survey, patient=patient, trigger_ref="a")
    assert first.message.deliveries.filter(status="delivered").exists()
    second = survey_invite(survey=survey, patient=patient, trigger_ref="b")
    # In-app is refused for the period; SMS also for the unverified number.
    reasons = dict(second.message.deliveries.values_list("channel", "reason"))
    assert reasons["inapp"] == "survey_recently"
    assert not second.message.deliveries.exclude(status="suppressed").exists()


def test_another_organizations_patient_is_refused(survey):
    stranger = PatientFactory(organization=OrganizationFactory(slug="south"))
    with pytest.raises(ValidationError):
        survey_invite(survey=survey, patient=stranger)
    assert not SurveyInvitation.objects.exists()


def test_inactive_survey_is_refused(survey, patient):
    survey.is_active = False
    survey.save()
    with pytest.raises(ValidationError, match="not active"):
        survey_invite(survey=survey, patient=patient)


class TestTokens:
    def test_reads_back_its_invitation(self, survey, patient):
        invitation = survey_invite(survey=survey, patient=patient)
        assert invitation_read(invitation_token(invitation)) == invitation

    def test_tampered_token_is_invalid(self, survey, patient):
        token = invitation_token(survey_invite(survey=survey, patient=patient))
        value, signature = token.split(":")
        forged = value[:-2] + ("AA" if value[-2:] != "AA" else "BB") + ":" + signature
        for bad in (
            forged,
            token[:-1] + ("x" if token[-1] != "x" else "y"),
            "nonsense",
        ):
            with pytest.raises(InvitationTokenError) as error:
                invitation_read(bad)
            assert error.value.code == "invalid"

    def test_one_patients_token_opens_only_their_invitation(
        self, survey, patient, organization
    ):
        other = PatientFactory(organization=organization)
        mine = survey_invite(survey=survey, patient=patient)
        theirs = survey_invite(survey=survey, patient=other)
        assert invitation_read(invitation_token(theirs)).patient == other
        assert invitation_read(invitation_token(mine)).patient == patient

    def test_expires(self, survey, patient):
        invitation = survey_invite(survey=survey, patient=patient)
        token = invitation_token(invitation)
        later = timezone.now() + datetime.timedelta(
            days=survey.link_valid_days, minutes=1
        )
        with time_machine.travel(later), pytest.raises(InvitationTokenError) as error:
            invitation_read(token)
        assert error.value.code == "expired"

    def test_single_use(self, survey, patient):
        invitation = survey_invite(survey=survey, patient=patient)
        question = survey.questions.get(kind="nps")
        response_submit(invitation=invitation, answers={question.pk: 9})
        with pytest.raises(InvitationTokenError) as error:
            invitation_read(invitation_token(invitation))
        assert error.value.code == "used"
        with pytest.raises(InvitationTokenError):
            response_submit(invitation=invitation, answers={question.pk: 3})
