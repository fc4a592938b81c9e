"""Text-to-speech call-outs through the SMS providers' voice APIs."""

# The voice each provider reads a delivery with, by the message's language.
TTS_LANGUAGES = {"fr": "fr-FR", "en": "en-US"}


def tts_language(language: str) -> str:
    """The provider locale ("fr-FR", "en-US") for one of our languages."""
    return TTS_LANGUAGES.get(language, "en-US")
