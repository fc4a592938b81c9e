from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        from conversations.services import conversation_patient_wrote
        from core import hooks
        from messaging.threads import PATIENT_WROTE

        # A patient's SMS or portal answer joins a conversation: the pipeline
        # asks through core.hooks (messaging.threads), never importing the desk.
        hooks.provide(PATIENT_WROTE, conversation_patient_wrote)
