"""The package's own translation domain.

Strings of the package live in the ``webence_privacy`` catalogue under
``translations/``, so the host's own catalogue never has to carry them and a host
without Flask-Babel still gets Dutch and English pages. Which language a visitor
gets is :mod:`~flask_webence_privacy.language`'s business.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_babel import Domain

TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN_NAME = "webence_privacy"

domain = Domain(translation_directories=str(TRANSLATIONS), domain=DOMAIN_NAME)


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
