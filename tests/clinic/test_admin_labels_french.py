"""French staff read admin in French: every column header, filter title,
form label, read-only label, fieldset title, action and choice of the
project's admin site, and the verbose name of every field of a registered
model, has a French translation (issue 19: "CREATED AT", "ATTEMPTS").

A label counts as translated when its French text differs from its English
text, or when it is one of the few words written the same in both languages.
"""

import re

import pytest

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, label_for_field
from django.test import RequestFactory
from django.utils import translation
from django.utils.functional import Promise

from tests.support.french import SAME_IN_FRENCH

pytestmark = pytest.mark.django_db

# The project's apps; third-party models (devices, axes, django-q) are
# superuser tools with their own catalogues.
APPS = {
    "clinic",
    "consent",
    "messaging",
    "campaigns",
    "outreach",
    "feedback",
    "insights",
    "api",
    "portal",
}
# Webhook event names ("delivery.updated") are identifiers partners code against.
IDENTIFIER = re.compile(r"^[a-z]+\.[a-z]+$")


def _in(language: str, value) -> str:
    with translation.override(language):
        return str(value)


def _same_in_both(english: str, french: str) -> bool:
    word = english.strip().lower()
    return english == french and not (word in SAME_IN_FRENCH or IDENTIFIER.match(word))


def _untranslated(value) -> bool:
    return _same_in_both(_in("en", value), _in("fr", value))


def _registered():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in APPS:
            yield model, model_admin


def _request(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return request


def _filter_titles(model, model_admin, request):
    for item in model_admin.get_list_filter(request):
        if isinstance(item, tuple):
            item = item[0]
        if isinstance(item, str):
            yield item, get_fields_from_path(model, item)[-1].verbose_name
        elif getattr(item, "title", None):
            yield item.__name__, item.title


def _action_descriptions(model_admin, request):
    for _function, name, description in model_admin._get_base_actions():
        if name != "delete_selected":  # Django's own, translated by Django
            yield name, description


def _changelist_labels(model, model_admin, request, where):
    for name in model_admin.get_list_display(request):
        if name != "action_checkbox":
            yield f"{where} column {name}", label_for_field(name, model, model_admin)
    for name, title in _filter_titles(model, model_admin, request):
        yield f"{where} filter {name}", title
    for name, description in _action_descriptions(model_admin, request):
        yield f"{where} action {name}", description


def _admin_labels(model, model_admin, request):
    """(where, label) of everything the admin pages of ``model`` print."""
    where = f"{model._meta.label} {type(model_admin).__name__}"
    inline = isinstance(model_admin, admin.options.InlineModelAdmin)
    labels = (
        [] if inline else list(_changelist_labels(model, model_admin, request, where))
    )
    for name in model_admin.get_readonly_fields(request):
        labels.append(
            (f"{where} read-only {name}", label_for_field(name, model, model_admin))
        )
    for title, _options in model_admin.get_fieldsets(request) or []:
        if title:
            labels.append((f"{where} fieldset", title))
    form = (
        model_admin.get_formset(request).form
        if inline
        else model_admin.get_form(request)
    )
    for name, field in form.base_fields.items():
        labels.append((f"{where} form {name}", field.label))
    return labels


def _everything_admin_prints(superuser, language: str) -> list[tuple[str, str]]:
    """Labels are computed in ``language``: some are text by then (a
    ``__str__`` column is the model's verbose name, already a string)."""
    request = _request(superuser)
    labels = []
    with translation.override(language):
        for model, model_admin in _registered():
            labels += _admin_labels(model, model_admin, request)
            for inline in model_admin.get_inline_instances(request):
                labels += _admin_labels(inline.model, inline, request)
        return [(where, str(label)) for where, label in labels if label]


def test_every_admin_label_is_french(superuser):
    """Column headers, filters, form and read-only labels, fieldsets, actions."""
    # when
    english = _everything_admin_prints(superuser, "en")
    french = _everything_admin_prints(superuser, "fr")
    # then
    assert len(english) > 300  # the walk reached every admin
    assert [where for where, _label in english] == [where for where, _label in french]
    untranslated = [
        f"{where}: {label!r}"
        for (where, label), (_where, label_fr) in zip(english, french, strict=True)
        if _same_in_both(label, label_fr)
    ]
    assert untranslated == []


def _registered_models(superuser):
    request = _request(superuser)
    models = set()
    for model, model_admin in _registered():
        models.add(model)
        for inline in model_admin.get_inline_instances(request):
            models.add(inline.model)
    return sorted(models, key=lambda m: m._meta.label)


def test_every_field_of_a_registered_model_has_a_french_name(superuser):
    """A field declared without a verbose name shows its attribute name
    ("created at") in every language."""
    # given
    models = _registered_models(superuser)
    fields = [
        (model, field)
        for model in models
        for field in model._meta.get_fields()
        if (field.concrete or field.many_to_many) and not field.auto_created
    ]
    # then
    not_marked = [
        f"{model._meta.label}.{field.name}"
        for model, field in fields
        if not isinstance(field.verbose_name, Promise)
    ]
    untranslated = [
        f"{model._meta.label}.{field.name}: {field.verbose_name!s}"
        for model, field in fields
        if _untranslated(field.verbose_name)
        or (field.help_text and _untranslated(field.help_text))
    ]
    choices = [
        f"{model._meta.label}.{field.name}={value}: {label!s}"
        for model, field in fields
        for value, label in field.flatchoices or []
        if _untranslated(label)
    ]
    names = [
        f"{model._meta.label}: {name!s}"
        for model in models
        for name in (model._meta.verbose_name, model._meta.verbose_name_plural)
        if _untranslated(name)
    ]
    assert len(fields) > 300
    assert not_marked == []
    assert untranslated == []
    assert choices == []
    assert names == []


def test_the_admin_index_is_titled_in_french():
    import config.urls  # noqa: F401 - titles the admin site

    with translation.override("fr"):
        assert str(admin.site.index_title) == "Administration de la clinique"
