"""The visitor's language: ``?lang=``, the switch cookie, then Accept-Language.

The package chooses among its own languages by its own rules, whatever a host's
Flask-Babel selector says for the host's pages: a host in Spanish keeps its
Spanish pages, and the privacy pages are in one of ``PRIVACY_LANGUAGES``, with
``lang`` saying which. Everything the package renders runs inside
:func:`speaking`, so its catalogue, Flask-Babel's dates and a host layout's own
``get_locale()`` agree. Outside a request the host's selector is never asked
(it may read ``request``): the language spoken then is the one given (a mail's,
a record's) or the default.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from flask import Request, has_request_context, request

from .caches import language_for
from .config import Settings
from .i18n import speaking, spoken_language

__all__ = ["LANGUAGE_COOKIE", "current_language", "locale_selector", "select_locale", "speaking"]
from .state import get_state

#: Cookie holding the visitor's language choice: functional, no identifier in it.
LANGUAGE_COOKIE = "privacy_lang"


def select_locale() -> str:
    """The visitor's language among the package's: ``?lang=``, then the switch
    cookie, then Accept-Language, then the default.

    The package's own Flask-Babel selector, where the host has none.
    """
    settings = get_state().settings
    if not has_request_context():
        return settings.default_language
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # once
    sent = req.cookies
    # A membership test first: MultiDict.get raises (and catches) an HTTP error
    # for a missing key, and most pages come without this cookie.
    for candidate in (asked_language(settings),
                      sent[LANGUAGE_COOKIE] if LANGUAGE_COOKIE in sent else None):  # noqa: SIM401
        if candidate in settings.languages:
            return candidate
    header = req.environ.get("HTTP_ACCEPT_LANGUAGE", "")
    return language_for(header, settings.languages, lambda: req.accept_languages.best_match(
        settings.languages) or settings.default_language)


def asked_language(settings: Settings | None = None) -> str | None:
    """The site language this request's ``?lang=`` names, if it names one."""
    if not has_request_context():
        return None
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    # Without a query string there is no ?lang= (and no query to parse).
    chosen = req.args.get("lang") if req.query_string else None
    return chosen if chosen in (settings or get_state().settings).languages else None


def locale_selector() -> Locale:
    """:func:`select_locale` as the Locale Flask-Babel keeps for the request."""
    return _locale(select_locale())


@cache
def _locale(code: str) -> Locale:
    # Flask-Babel parses a selector's string again on every request; a Locale it
    # takes as it is. Codes are the site's few languages.
    return Locale.parse(code)


def current_language() -> str:
    """The language the package speaks now, one of ``PRIVACY_LANGUAGES``: the one
    :func:`speaking` set, else the visitor's (never the host selector's choice),
    else, outside a request, the default."""
    spoken = spoken_language()
    if spoken is not None:
        return spoken
    if has_request_context():
        return select_locale()
    return get_state().settings.default_language
