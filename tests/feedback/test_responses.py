"""Answers: validated per question kind, partial answers kept, anonymity kept."""

import pytest

from django.core.exceptions import ValidationError

from feedback.models import Answer, SurveyResponse
from feedback.services import response_submit, survey_invite
from feedback.signals import survey_completed

pytestmark = pytest.mark.django_db


def questions(survey):
    return {q.kind: q for q in survey.questions.all()}


def test_partial_answers_are_kept(survey, patient, django_capture_on_commit_callbacks):
    invitation = survey_invite(survey=survey, patient=patient)
    q = questions(survey)
    with django_capture_on_commit_callbacks(execute=True):
        response = response_submit(invitation=invitation, answers={q["nps"].pk: 10})
    assert response.patient == patient
    assert response.invitation == invitation
    assert not response.complete
    assert list(response.answers.values_list("score", flat=True)) == [10]


def test_complete_response(survey, patient):
    invitation = survey_invite(survey=survey, patient=patient)
    q = questions(survey)
    response = response_submit(
        invitation=invitation,
        answers={
            q["nps"].pk: 3,
            q["csat"].pk: 2,
            q["multiple"].pk: ["welcome", "wait"],
            q["text"].pk: "Trop d'attente",
        },
    )
    assert response.complete
    answer = Answer.objects.get(response=response, question=q["multiple"])
    assert answer.choices == ["welcome", "wait"]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("nps", 11),
        ("nps", -1),
        ("csat", 0),
        ("csat", 6),
        ("multiple", ["nope"]),
        ("nps", "x"),
    ],
)
def test_invalid_values_are_refused_and_nothing_written(survey, patient, kind, value):
    invitation = survey_invite(survey=survey, patient=patient)
    q = questions(survey)
    answers = {q["nps"].pk: 5, q[kind].pk: value}
    with pytest.raises(ValidationError) as error:
        response_submit(invitation=invitation, answers=answers)
    assert f"q{q[kind].pk}" in error.value.message_dict
    assert not SurveyResponse.objects.exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_required_question_must_be_answered(survey, patient):
    invitation = survey_invite(survey=survey, patient=patient)
    with pytest.raises(ValidationError):
        response_submit(invitation=invitation, answers={})


def test_anonymous_response_keeps_no_link(survey, patient):
    survey.anonymous = True
    survey.save()
    invitation = survey_invite(survey=survey, patient=patient)
    response = response_submit(
        invitation=invitation, answers={questions(survey)["nps"].pk: 8}
    )
    response.refresh_from_db()
    assert response.patient_id is None
    assert response.invitation_id is None
    invitation.refresh_from_db()
    assert invitation.answered_at is not None
    # Not even the time: the day only, so it cannot be matched to answered_at.
    assert response.submitted_at != invitation.answered_at
    assert response.submitted_at.time().isoformat() == "00:00:00"


def test_completed_signal_is_sent_on_commit(
    survey, patient, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, response, **kwargs):
        received.append(response)

    survey_completed.connect(receiver)
    try:
        invitation = survey_invite(survey=survey, patient=patient)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = response_submit(
                invitation=invitation, answers={questions(survey)["nps"].pk: 9}
            )
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [response]
    finally:
        survey_completed.disconnect(receiver)
