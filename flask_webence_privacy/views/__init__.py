"""Thin views: read the form, call one domain function, render.

Each feature keeps its routes in its own module with an ``init_views(bp, state)``;
this module builds the one blueprint they share and the page helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, make_response, render_template, request, url_for

from ..extension import State, get_state
from ..i18n import LANGUAGE_COOKIE, current_language

PACKAGE = Path(__file__).resolve().parent.parent
BLUEPRINT = "webence_privacy"

#: Strict enough that an injected inline script cannot run; the pages need no more.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def render(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(f"webence_privacy/{template}", **context), status)
    return response


def private(view: Callable[..., Any]) -> Callable[..., Any]:
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


def register_views(app: Flask, state: State) -> None:
    bp = Blueprint(
        BLUEPRINT,
        __name__,
        template_folder=str(PACKAGE / "templates"),
        static_folder=str(PACKAGE / "static" / "webence_privacy"),
        static_url_path="/static",
    )

    from . import policy

    policy.init_views(bp, state)
    for name in ("contact", "newsletter", "portal", "admin"):
        module = _optional_module(name)
        if module is not None:
            module.init_views(bp, state)

    @bp.after_request
    def security_headers(response: Response) -> Response:
        if get_state().settings.security_headers:
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
            response.headers.setdefault("X-Frame-Options", "DENY")
            if request.is_secure:
                response.headers.setdefault(
                    "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
                )
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        return response

    @bp.errorhandler(404)
    def not_found(error: Exception) -> Response:
        return render("error.html", 404, title_code="not_found")

    app.register_blueprint(bp, url_prefix=state.settings.url_prefix)

    from ..config import localize
    from ..i18n import gettext, ngettext

    # Globals, not a context processor: imported macros see globals only.
    app.jinja_env.globals.update(
        _wp=gettext,
        _wpn=ngettext,
        privacy_lang=current_language,
        privacy_switch_url=language_switch_url,
        privacy_url=url_or_none,
    )
    app.jinja_env.filters["privacy_date"] = _format_date
    app.jinja_env.filters["privacy_text"] = lambda v: localize(v, current_language())

    @app.context_processor
    def privacy_context() -> dict[str, Any]:
        settings = get_state(app).settings
        return {
            "privacy_base": settings.base_template,
            "privacy_languages": settings.languages,
            "privacy_settings": settings,
        }


def _format_date(value: Any) -> str:
    """A date in the visitor's language; snapshots hold ISO strings."""
    import datetime as dt

    from flask_babel import format_date

    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return format_date(value, "long")


def url_or_none(endpoint: str, **values: Any) -> str | None:
    """A URL for an endpoint, or None where that feature is not part of this site."""
    from flask import current_app

    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def language_switch_url(code: str) -> str:
    here = request.full_path if request else "/"
    here = here[:-1] if here.endswith("?") else here
    return url_for(f"{BLUEPRINT}.switch_language", code=code, next=here)


def set_language_cookie(response: Response, code: str) -> Response:
    response.set_cookie(
        LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
        secure=request.is_secure,
    )
    return response


def _optional_module(name: str) -> Any:
    """Feature view modules are imported if present, so each stands on its own."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        return None
