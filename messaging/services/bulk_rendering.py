"""Rendering for the bulk form (``messaging.services.bulk``): a topic's
templates parsed once per language into ``str.format`` patterns, so each
patient's texts are one ``format_map`` each, with the output of
``messaging.rendering.render``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.utils.html import escape

from consent.models import Topic
from consent.vocabulary import Channel
from messaging.content import (
    Content,
    MessageContentError,
    context_for,
    pick_templates,
)
from messaging.models import Template
from messaging.rendering import PLACEHOLDER

if TYPE_CHECKING:
    from messaging.services.bulk import PatientRow


class Values(dict):
    """Template values: a missing one renders empty, as in ``render``."""

    def __missing__(self, key: str) -> str:
        return ""


class Compiled:
    """A template text parsed once into a ``str.format`` pattern; rendering is
    then one ``format_map`` (the output of ``messaging.rendering.render``:
    values are plain text or numbers, checked by ``context_for``, and an HTML
    body gets them escaped)."""

    __slots__ = ("constant", "html", "pattern")

    def __init__(self, text: str, *, html: bool = False):
        pieces = PLACEHOLDER.split(text or "")
        # Even indexes are literals, odd ones variable names.
        self.html = html
        self.constant = pieces[0] if len(pieces) == 1 else None
        self.pattern = "".join(
            piece.replace("{", "{{").replace("}", "}}")
            if index % 2 == 0
            else "{" + piece + "}"
            for index, piece in enumerate(pieces)
        )

    def __call__(
        self, values: Values, escaped: Callable[[], Values], rendered: dict
    ) -> str:
        if self.constant is not None:
            return self.constant
        # Channels often share a text (the inbox, the email and the SMS
        # saying the same): rendered once per patient.
        text = rendered.get(self)
        if text is None:
            text = rendered[self] = self.pattern.format_map(
                escaped() if self.html else values
            )
        return text


@dataclass(slots=True)
class Variant:
    subject: Compiled
    body: Compiled
    body_html: Compiled
    confidential: bool

    def render(
        self, values: Values, escaped: Callable[[], Values], rendered: dict
    ) -> Content:
        return Content(
            self.subject(values, escaped, rendered),
            self.body(values, escaped, rendered),
            self.body_html(values, escaped, rendered),
            self.confidential,
        )


class Rendering:
    """What every page of one call renders with: the message as asked, the
    templates parsed once per language, the caller's context checked once."""

    def __init__(
        self,
        *,
        topic: Topic,
        caller_context: dict | None,
        text: str,
        subject: str,
        confidential: bool,
    ):
        self.topic = topic
        self.caller_context = caller_context
        self.text = text
        self.subject = subject
        self.confidential = confidential
        organization = topic.organization
        self.organization_name = organization.name
        self.fallback_language = organization.default_language
        self.templates = list(Template.objects.filter(topic=topic))
        self.variants: dict[str, dict[str, Variant]] = {}
        self.texts: dict[tuple[str, bool], Compiled] = {}
        self.base_values: dict | None = None

    def values(self, row: PatientRow) -> Values:
        if self.base_values is None:
            # ``context_for`` checks the caller's values (MessageContentError).
            self.base_values = context_for(
                SimpleNamespace(
                    given_name="",
                    family_name="",
                    organization=SimpleNamespace(name=self.organization_name),
                ),
                self.caller_context,
            )
        values = Values(self.base_values)
        values["patient_first_name"] = row.given_name
        values["patient_last_name"] = row.family_name
        if self.caller_context:
            values.update(self.caller_context)
        return values

    def language_variants(self, language: str) -> dict[str, Variant]:
        variants = self.variants.get(language)
        if variants is None:
            chosen = pick_templates(self.templates, language, self.fallback_language)
            variants = self.variants[language] = {
                channel: Variant(
                    self.compiled(template.subject),
                    self.compiled(template.body),
                    self.compiled(template.body_html, html=True),
                    template.sensitivity == "confidential",
                )
                for channel, template in chosen.items()
            }
        return variants

    def compiled(self, text: str, *, html: bool = False) -> Compiled:
        """One ``Compiled`` per distinct text, so equal texts render once."""
        found = self.texts.get((text, html))
        if found is None:
            found = self.texts[(text, html)] = Compiled(text, html=html)
        return found

    def contents(self, row: PatientRow) -> dict[str, Content]:
        """As ``sending._contents``: channel → what it carries."""
        if self.text:
            return {
                c: Content(self.subject, self.text, "", self.confidential)
                for c in Channel.values
            }
        variants = self.language_variants(row.language)
        if not variants:
            raise MessageContentError(
                f"Topic {self.topic.slug!r} has no template and no text was given."
            )
        values = self.values(row)
        cache: list[Values] = []

        def escaped() -> Values:
            if not cache:
                cache.append(Values({k: escape(str(v)) for k, v in values.items()}))
            return cache[0]

        rendered: dict[Compiled, str] = {}
        contents = {
            channel: v.render(values, escaped, rendered)
            for channel, v in variants.items()
        }
        if Channel.INAPP not in contents:
            source = contents.get(Channel.EMAIL) or next(iter(contents.values()))
            contents[Channel.INAPP] = Content(
                source.subject, source.body, "", source.confidential
            )
        return contents

    def has_content(self, language: str, channel: str) -> bool:
        """Whether planning will find something to send on ``channel`` (a
        confidential message always has its notice)."""
        if self.text:
            return True
        variants = self.language_variants(language)
        if not variants:
            return False
        inbox = variants.get(Channel.INAPP) or variants.get(Channel.EMAIL)
        if inbox is None:
            inbox = next(iter(variants.values()))
        if channel == Channel.INAPP:
            return True
        return channel in variants or inbox.confidential
