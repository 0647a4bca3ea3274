"""A mail's subject, text and HTML from its templates, in the recipient's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from jinja2 import TemplateNotFound

from ..language import speaking
from ..models import OutboxRow
from ..state import get_state
from .frozen import thaw


def _render(name: str, language: str, context: Mapping[str, Any]) -> str:
    # Straight from the Jinja environment, not render_template: the sender runs
    # outside any request, and the site's context processors may assume one
    # (a current user, request.path). A mail sees its own values, the package's
    # template globals and the settings, whoever renders it.
    template = current_app.jinja_env.get_or_select_template(name)
    with speaking(language):
        return template.render({"privacy_settings": get_state().settings, **context})


def render(template: str, language: str,
           context: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """The subject (on one line), text and HTML of ``email/<template>`` in
    ``language``."""
    base = f"webence_privacy/email/{template}"
    subject = " ".join(_render(f"{base}.subject.txt", language, context).split())
    text = _render(f"{base}.txt", language, context)
    try:
        html: str | None = _render(f"{base}.html", language, context)
    except TemplateNotFound:  # a site may ship text-only overrides
        html = None
    return subject, text, html


def content(row: OutboxRow) -> tuple[str, str, str | None]:
    """A mail's subject, text and HTML, rendered now where the sender has not yet
    (the viewer of a queued mail; the sender stores what it renders)."""
    if row.body_text is None and row.template:
        language = row.language or get_state().settings.default_language
        return render(row.template, language, thaw(row.context))
    return row.subject or "", row.body_text or "", row.body_html
