from rest_framework import serializers

from feedback.models import Answer, Question, Survey, SurveyResponse


class QuestionSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Question
        fields = ["id", "position", "kind", "text_fr", "text_en", "choices", "required"]


class SurveySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "title_fr",
            "title_en",
            "anonymous",
            "trigger",
            "is_active",
            "questions",
            "created_at",
            "updated_at",
        ]


class AnswerSerializer(serializers.ModelSerializer):
    question = serializers.IntegerField(source="question_id", read_only=True)
    score = serializers.IntegerField(allow_null=True, read_only=True)
    choices = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Answer
        fields = ["question", "score", "choices", "text"]


class SurveyResponseSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    survey = serializers.UUIDField(source="survey.public_id", read_only=True)
    patient = serializers.SerializerMethodField(
        help_text="The patient's id; null for an anonymous survey."
    )
    answers = AnswerSerializer(many=True, read_only=True)

    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "survey",
            "patient",
            "submitted_at",
            "complete",
            "answers",
            "updated_at",
        ]

    def get_patient(self, response: SurveyResponse) -> str | None:
        return str(response.patient.public_id) if response.patient_id else None
