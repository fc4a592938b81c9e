"""The answer form, built from a survey's questions in the patient's language."""

from django import forms
from django.utils.translation import gettext_lazy as _

from feedback.models import Question, Survey
from feedback.services import TEXT_MAX_LENGTH

# The words at both ends of a scale: a number alone does not say which end
# is which. The page ties them to the radio group (aria-describedby).
SCALE_ENDS = {
    Question.Kind.NPS: (_("Not at all likely"), _("Extremely likely")),
    Question.Kind.CSAT: (_("Not at all satisfied"), _("Very satisfied")),
}


def _field(question: Question) -> forms.Field:
    label = question.text()
    required = question.required
    if question.kind in Question.SCALES:
        low, high = Question.SCALES[question.kind]
        field = forms.TypedChoiceField(
            label=label,
            required=required,
            coerce=int,
            empty_value=None,
            choices=[(n, str(n)) for n in range(low, high + 1)],
            widget=forms.RadioSelect(attrs={"class": "scale"}),
        )
        low_words, high_words = SCALE_ENDS[question.kind]
        field.scale_ends = ((low, low_words), (high, high_words))
        return field
    if question.kind == Question.Kind.SINGLE:
        return forms.ChoiceField(
            label=label,
            required=required,
            choices=question.choice_labels(),
            widget=forms.RadioSelect,
        )
    if question.kind == Question.Kind.MULTIPLE:
        return forms.MultipleChoiceField(
            label=label,
            required=required,
            choices=question.choice_labels(),
            widget=forms.CheckboxSelectMultiple,
        )
    return forms.CharField(
        label=label,
        required=required,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Please do not write medical details here."),
    )


class AnswerForm(forms.Form):
    def __init__(self, *args, survey: Survey, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(survey.questions.all())
        for question in self.questions:
            self.fields[f"q{question.pk}"] = _field(question)

    def answers(self) -> dict[int, object]:
        return {q.pk: self.cleaned_data.get(f"q{q.pk}") for q in self.questions}
