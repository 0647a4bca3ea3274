"""The visitor's language: ``?lang=``, the switch cookie, then Accept-Language."""

from __future__ import annotations

from flask import has_request_context, request
from flask_babel import get_locale

from .state import get_state

#: Cookie holding the visitor's language choice: functional, no identifier in it.
LANGUAGE_COOKIE = "privacy_lang"


def select_locale() -> str:
    """Locale selector: ``?lang=``, then the switch cookie, then Accept-Language.

    Hosts with their own Babel set-up can pass this as ``locale_selector``.
    """
    settings = get_state().settings
    if not has_request_context():
        return settings.default_language
    for candidate in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in settings.languages:
            return candidate
    return request.accept_languages.best_match(settings.languages) or settings.default_language


def current_language() -> str:
    """The visitor's language as one of ``PRIVACY_LANGUAGES``."""
    settings = get_state().settings
    try:
        locale = get_locale()
    except (RuntimeError, AttributeError):
        locale = None
    code = locale.language if locale is not None else None
    return code if code in settings.languages else settings.default_language
