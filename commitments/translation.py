"""The record in two languages (django-modeltranslation): each field named here gets an
English and a Japanese column (``title_en``, ``title_ja``); reading ``title`` gives the
active language's text, or the English one where the Japanese is empty.

Where a Japanese text comes from is said on the record (``ja_is_translation``): the
words of a Japanese source quoted among its sources (language "ja"), or the tracker's
own translation. The audit trail's historical models are registered too, so that
django-simple-history keeps both languages of every change.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from modeltranslation.translator import TranslationOptions, translator

from .models import Agreement, Commitment, LogEntry, Milestone

# What is ours to translate: titles, summaries, our log text, our assessment. Never a
# quotation (Source.passage, LogEntry.source_passage): it stays in its source's language.
TRANSLATED_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Agreement: ("title", "short_name", "summary"),
    Commitment: ("title", "summary", "assessment_note"),
    Milestone: ("title",),
    LogEntry: ("text",),
}

for _model, _fields in TRANSLATED_FIELDS.items():
    _options = type(
        f"{_model.__name__}TranslationOptions", (TranslationOptions,), {"fields": _fields}
    )
    translator.register(_model, _options)
    _history = _model.history.model  # type: ignore[attr-defined]
    translator.register(_history, _options)
    # simple_history listed what it tracks before these fields existed; its bulk
    # writes (the services' audit rows), diffs and "as of" rebuilds go by that list.
    _tracked = {f.name for f in _history.tracked_fields}
    _history.tracked_fields = [
        f for f in _model._meta.fields if f.name in _tracked or f.name.rpartition("_")[0] in _fields
    ]


def translated(model: type) -> tuple[str, ...]:
    """The fields of ``model`` kept in both languages (none for other models)."""
    return TRANSLATED_FIELDS.get(model, ())


def columns(model: type, changes: dict[str, object]) -> dict[str, object]:
    """The columns a write of ``changes`` sets, whatever language is active: a field
    named without a language ("title") is the English text, and the original column
    keeps the English one too, so that what reads it directly (SQL, the legacy
    snapshot) always sees English. Use with ``QuerySet.rewrite(False)``."""
    out: dict[str, object] = {}
    for name, value in changes.items():
        base, _, lang = name.rpartition("_")
        if name in translated(model):
            out[name] = out[f"{name}_en"] = value
        elif lang == "en" and base in translated(model):
            out[base] = out[name] = value
        else:
            out[name] = value
    return out


def editable(model: type) -> frozenset[str]:
    """What an editor may change of the two languages: both versions of each field,
    and where the Japanese comes from."""
    names = {f"{field}_{lang}" for field in translated(model) for lang in ("en", "ja")}
    return frozenset(names | {"ja_is_translation"})


def optional(model: type) -> frozenset[str]:
    """The Japanese versions: empty is allowed (the English shows, marked)."""
    return frozenset(f"{field}_ja" for field in translated(model))


def required(model: type) -> frozenset[str]:
    """The English versions of required fields (translation columns are nullable)."""
    names = (f for f in translated(model) if not model._meta.get_field(f).blank)  # type: ignore[attr-defined]
    return frozenset(f"{name}_en" for name in names)


def label(model: type, field: Any) -> str:
    """A changed column in words: "title" for the English one (and the original column
    that mirrors it), "title (Japanese)" for the Japanese one."""
    base, _, lang = field.name.rpartition("_")
    if base not in translated(model):
        return str(field.verbose_name)
    words = str(model._meta.get_field(base).verbose_name)  # type: ignore[attr-defined]
    return words if lang == "en" else f"{words} (Japanese)"


def rows(model: type[models.Model]) -> Any:
    """All of ``model``'s rows, their fields named as written: "title" is the column
    called title, not the active language's (modeltranslation's ``rewrite(False)``;
    other models' managers have no such method and need none)."""
    manager: Any = model._default_manager
    return manager.rewrite(False) if hasattr(manager, "rewrite") else manager.all()
