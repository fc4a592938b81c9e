from messaging.management.commands.secrets_rotate import Command as SecretsRotate


class Command(SecretsRotate):
    """The command's earlier name, kept for deployments that script it."""
