"""What every page shares: rendering, the private-page headers, safe return
URLs, the language switch and the template helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from .. import tokens
from ..language import LANGUAGE_COOKIE, asked_language, select_locale, speaking

PACKAGE = Path(__file__).resolve().parent.parent
BLUEPRINT = "webence_privacy"

#: Strict enough that an injected inline script cannot run; the pages need no more.
CSP_DIRECTIVES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("default-src", ("'self'",)),
    ("script-src", ("'self'",)),
    ("style-src", ("'self'",)),
    ("img-src", ("'self'", "data:")),
    ("form-action", ("'self'",)),
    ("frame-ancestors", ("'none'",)),
    ("base-uri", ("'none'",)),
    ("object-src", ("'none'",)),
)


def content_security_policy(extra: Mapping[str, Iterable[str]] | None = None) -> str:
    """The package's policy with a site's extra sources (``PRIVACY_CSP``) merged in:
    a host layout's stylesheet or font from a CDN is allowed by naming it, while
    the rest stays as strict (config.py refuses ``'unsafe-inline'`` and the like
    for scripts). A directive the package does not set starts from nothing; a
    source added to one that says ``'none'`` replaces it."""
    merged = {name: list(sources) for name, sources in CSP_DIRECTIVES}
    for name, sources in (extra or {}).items():
        have = merged.setdefault(name, [])
        if have == ["'none'"] and sources:
            have.clear()
        have.extend(source for source in sources if source not in have)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in merged.items())


CSP = content_security_policy()


def render(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(f"webence_privacy/{template}", **context), status)
    return response


def in_visitor_language(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view that runs in the language the package chose for this visitor, even
    where the host's own Flask-Babel selector would choose another."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with speaking(select_locale()):
            return view(*args, **kwargs)

    return wrapper


def private(view: Callable[..., Any]) -> Callable[..., Response]:
    """For pages that show personal data or carry a token in their URL: no cache
    may keep them and no Referer may carry the URL to another site."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        response = make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper


def safe_next(target: str | None, fallback: str) -> str:
    """A return URL that stays on this site: a path, never a scheme or host."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


#: An e-mail address in a host's text (policy intro, measures): made a mailto link.
MAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mail_links(value: object) -> Markup:
    """Text, escaped, with every e-mail address in it a mailto link."""
    text = "" if value is None else str(value)
    link = Markup('<a href="mailto:{0}">{0}</a>')
    parts, last = [], 0
    for found in MAIL_ADDRESS.finditer(text):
        parts += [escape(text[last:found.start()]), link.format(found[0])]
        last = found.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def url_or_none(endpoint: str, **values: Any) -> str | None:
    """A URL for an endpoint, or None where that feature is not part of this site."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def keep_language() -> dict[str, str]:
    """``{"lang": ...}`` when the page was asked for in a language by ``?lang=``:
    its forms post to a URL that keeps it, so errors come back in that language."""
    chosen = asked_language()
    return {"lang": chosen} if chosen is not None else {}


#: How long a result page's signed token works: long enough to reload the page,
#: short enough that a URL found in a history later shows nothing.
RESULT_MAX_AGE = 3600
#: A result token carries a small report (an erasure's counts), never more.
RESULT_MAX_LENGTH = 4000


def see_other(endpoint: str, **values: Any) -> BaseResponse:
    """The answer to a successful POST: 303 to its result page, in the visitor's
    language, so a reload of that page (a GET) sends and stores nothing again."""
    values.update(keep_language())
    response = redirect(url_for(endpoint, **values), 303)
    # No body. A browser reads none after a redirect's headers and resets the
    # connection on one it left unread; Werkzeug's development server then closes
    # the response late, and what runs on close (the visit log) would wait. Mail
    # does not depend on it: it leaves in after_request (mail/dispatch.py).
    response.set_data(b"")
    return response


def result_token(payload: Any) -> str:
    """What a result page needs, signed and short-lived: never an address."""
    return tokens.make("result", payload)


def read_result(token: str) -> Any:
    """The payload of :func:`result_token`; :class:`tokens.TokenError` otherwise."""
    return tokens.load("result", token, max_age=RESULT_MAX_AGE, max_length=RESULT_MAX_LENGTH)


def language_switch_url(code: str) -> str:
    here = request.full_path if request else "/"
    here = here[:-1] if here.endswith("?") else here
    return url_for(f"{BLUEPRINT}.switch_language", code=code, next=here)


def set_language_cookie(response: BaseResponse, code: str) -> BaseResponse:
    response.set_cookie(
        LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
        secure=request.is_secure,
    )
    return response
