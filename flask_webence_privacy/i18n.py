"""The package's own translation domain and the visitor's language.

Strings of the package live in the ``webence_privacy`` catalogue under
``translations/``, so the host's own catalogue never has to carry them and a host
without Flask-Babel still gets Dutch and English pages.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, has_request_context, request
from flask_babel import Domain, get_locale

TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN_NAME = "webence_privacy"
#: Cookie holding the visitor's language choice: functional, no identifier in it.
LANGUAGE_COOKIE = "privacy_lang"

domain = Domain(translation_directories=str(TRANSLATIONS), domain=DOMAIN_NAME)
gettext = domain.gettext
ngettext = domain.ngettext
lazy_gettext = domain.lazy_gettext
_ = gettext


def _languages() -> tuple[str, ...]:
    return tuple(current_app.config.get("PRIVACY_LANGUAGES", ("nl", "en")))


def select_locale() -> str:
    """Locale selector: ``?lang=``, then the switch cookie, then Accept-Language.

    Hosts with their own Babel set-up can pass this as ``locale_selector``.
    """
    languages = _languages()
    default = current_app.config.get("PRIVACY_DEFAULT_LANGUAGE", languages[0])
    if not has_request_context():
        return default
    for candidate in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in languages:
            return candidate
    return request.accept_languages.best_match(languages) or default


def current_language() -> str:
    """The visitor's language as one of ``PRIVACY_LANGUAGES``."""
    languages = _languages()
    try:
        locale = get_locale()
    except (RuntimeError, AttributeError):
        locale = None
    code = locale.language if locale is not None else None
    return code if code in languages else current_app.config.get(
        "PRIVACY_DEFAULT_LANGUAGE", languages[0]
    )
