from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        from conversations.services import conversation_patient_wrote
        from messaging.threads import patient_wrote_register

        # A patient's SMS or portal answer joins a conversation: the pipeline
        # hands it over through messaging.threads, never importing the desk.
        patient_wrote_register(conversation_patient_wrote)
