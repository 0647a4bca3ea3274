"""The package's own translation domain.

Strings of the package live in the ``webence_privacy`` catalogue under
``translations/``, so the host's own catalogue never has to carry them and a host
without Flask-Babel still gets Dutch and English pages. A site adds a language
(or rewords a string) with its own catalogue of this domain in its Babel
translation directories (``<dir>/<lang>/LC_MESSAGES/webence_privacy.mo``): those
are read after the package's, so their messages win. Which language a visitor
gets is :mod:`~flask_webence_privacy.language`'s business.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context
from flask_babel import Domain, force_locale, get_babel

from .config import PREFIX, ConfigurationError

TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN_NAME = "webence_privacy"
#: Where an app keeps the directories searched and the catalogues loaded.
_KEY = "webence_privacy.catalogues"


class _Catalogues:
    """One app's view of the domain: the directories searched, the loaded
    catalogues, and the language spoken outside a request unless told another."""

    def __init__(self, directories: list[str]) -> None:
        self.directories = directories
        self.cache: dict[Any, Any] = {}
        self.default_language: str | None = None


#: The language of what is being rendered, set by :func:`speaking`.
_SPOKEN: ContextVar[str | None] = ContextVar("webence_privacy_language", default=None)


def spoken_language() -> str | None:
    """The language :func:`speaking` set, if any."""
    return _SPOKEN.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Render in ``language``: the package's catalogue, Flask-Babel's formatting and
    ``language.current_language`` all say it inside, then what was before."""
    token = _SPOKEN.set(language)
    try:
        with force_locale(language):
            yield
    finally:
        _SPOKEN.reset(token)


@contextmanager
def package_locale() -> Iterator[None]:
    """Flask-Babel's locale for what the package translates or formats: the one
    spoken; outside a request (the Python API, the CLI, the mail sender) the
    default language, never the host's selector, which may read ``request``; in
    a request, the request's own."""
    language = _SPOKEN.get()
    if language is None and not has_request_context():
        language = _catalogues(current_app).default_language
    if language is None:
        yield
        return
    with force_locale(language):
        yield


def _catalogues(app: Flask) -> _Catalogues:
    found: _Catalogues | None = app.extensions.get(_KEY)
    if found is None:
        # The package's own first, then the site's (Flask-Babel merges later over earlier).
        host = get_babel(app).translation_directories if "babel" in app.extensions else []
        found = _Catalogues([str(TRANSLATIONS), *(d for d in host if Path(d) != TRANSLATIONS)])
        app.extensions[_KEY] = found
    return found


class _PackageDomain(Domain):  # type: ignore[misc]  # Flask-Babel is untyped
    """Flask-Babel's Domain with the directories and the cache of the current app:
    one module-level domain serves every app a factory builds, each with its own
    translation directories."""

    @property
    def translation_directories(self) -> list[str]:
        return _catalogues(current_app).directories

    def get_translations_cache(self, ctx: Any) -> dict[Any, Any]:
        return _catalogues(current_app).cache

    def get_translations(self) -> Any:
        with package_locale():
            return super().get_translations()


domain = _PackageDomain(domain=DOMAIN_NAME)


def available_languages(app: Flask) -> set[str]:
    """The languages a catalogue of the package's domain exists for in ``app``."""
    return {path.parent.parent.name
            for directory in _catalogues(app).directories
            for path in Path(directory).glob(f"*/LC_MESSAGES/{DOMAIN_NAME}.mo")}


def init_app(app: Flask, languages: tuple[str, ...], default_language: str) -> None:
    """Stop the start when a language has no catalogue (its pages would be English
    text marked as that language); note the language spoken outside a request."""
    _catalogues(app).default_language = default_language
    available = available_languages(app)
    for language in languages:
        if language not in available:
            raise ConfigurationError(
                f"{PREFIX}LANGUAGES names {language!r}, but there is no catalogue of the "
                f"package's domain for it ({language}/LC_MESSAGES/{DOMAIN_NAME}.mo in "
                f"{' or '.join(_catalogues(app).directories)}). Available: "
                f"{', '.join(sorted(available))}. The README's 'Languages' says how a site "
                "adds one.")


def gettext(string: str, **variables: Any) -> str:
    """``string`` in the active locale, from the package's catalogue."""
    return str(domain.gettext(string, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return str(domain.ngettext(singular, plural, num, **variables))


def lazy_gettext(string: str, **variables: Any) -> Any:
    """Translated when rendered (form labels and module-level texts); Flask-Babel's
    LazyString, which is untyped."""
    return domain.lazy_gettext(string, **variables)


_ = gettext
