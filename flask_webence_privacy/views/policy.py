"""The privacy page, its earlier versions, and the language switch."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    Request,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from .. import cookies, policy
from ..language import current_language
from ..state import State, get_state
from .common import PACKAGE, render, safe_next, set_language_cookie


def init_views(bp: Blueprint, state: State) -> None:
    bp.add_url_rule("/", "policy", policy_page)
    bp.add_url_rule("/versions/<version>", "policy_version", policy_version)
    bp.add_url_rule("/language/<code>", "switch_language", switch_language)


def _versions(state: State) -> list[dict[str, Any]]:
    current = policy.current_version(state.settings)
    return [
        {
            "version": v.version,
            "effective": v.effective if v is not policy.IMPLICIT_VERSION else None,
            "current": v.version == current.version,
            "changes": v.changes,
        }
        for v in reversed(policy.versions(state.settings))
    ]


class Page(NamedTuple):
    """A privacy page as the bytes it is sent as, and its validator (quoted)."""

    body: bytes
    etag: str


def _page(html: str, language: str, version: str) -> Page:
    body = html.encode()
    # The language and version for a reader of the headers; the hash of the
    # bytes for everything else the page shows (the banner or not, the day).
    return Page(body, f'"{language}-{version}-{hashlib.sha256(body).hexdigest()[:32]}"')


def policy_page() -> Response:
    """The page depends on the language, the policy version, the day, where the
    app is mounted, its URL and whether the banner asks; never on who the visitor
    is (the banner carries nothing per visitor). Its article is rendered once for
    each and kept; in the package's own frame the whole page is. It carries a
    validator, so a browser or a cache that has it gets a 304."""
    state = get_state()
    settings = state.settings
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # once
    language = current_language()
    today = dt.date.today()
    version = policy.current_version(settings, today).version
    key = (language, version, today.isoformat(), req.script_root)

    def article_html() -> Markup:
        content = policy.page_content(settings, state.sources, language, state.periods)
        # Autoescaped by Jinja when rendered: safe to mark as markup.
        return Markup(render_template("webence_privacy/_policy_article.html",  # noqa: S704
                                      content=content, versions=_versions(state)))

    article = state.caches.page(key, article_html)

    def page() -> Page:
        return _page(render_template("webence_privacy/policy.html", article=article),
                     language, version)

    if _keepable(state, req):
        asking = "banner" if cookies.needs_asking(state) else "no banner"
        found = state.caches.page(("policy-page", *key, req.full_path, asking), page)
    else:
        found = page()
    response = Response(found.body, mimetype="text/html", headers=(
        ("ETag", found.etag), ("Cache-Control", settings.page_cache_control)))
    if "HTTP_IF_NONE_MATCH" in req.environ:
        # Only a conditional request can be answered with less than the page.
        response.make_conditional(req)
    return response


def _keepable(state: State, req: Request) -> bool:
    """A page can be kept whole in the package's own frame (a host's layout, or
    its override of one of the page's templates, may show per-visitor things: a
    name, a basket), at a URL without a query string but exactly
    ``?lang=<a site language>`` (any other would make endless copies)."""
    if not state.caches.frame_is_own(
            lambda: _package_files((*KEPT_TEMPLATES, state.settings.base_template))):
        return False
    query = req.query_string.decode("latin-1")
    return not query or query in {f"lang={code}" for code in state.settings.languages}


#: What a kept page is made of besides its frame (``PRIVACY_BASE_TEMPLATE``).
KEPT_TEMPLATES = ("webence_privacy/policy.html", "webence_privacy/_head.html",
                  "webence_privacy/_language_switch.html", "webence_privacy/_cookie_banner.html")


def _package_files(names: tuple[str, ...]) -> bool:
    """True when each template of ``names`` is the package's own file."""
    own = PACKAGE / "templates"
    for name in names:
        filename = current_app.jinja_env.get_template(name).filename
        if filename is None or not Path(filename).resolve().is_relative_to(own):
            return False
    return True


def policy_version(version: str) -> BaseResponse:
    state = get_state()
    spec = policy.find_version(state.settings, version)
    if spec is None:
        abort(404)
    current = policy.current_version(state.settings)
    if spec.version == current.version:
        return redirect(url_for(".policy"))
    language = current_language()
    content = policy.stored_snapshot(state.db, state.models, spec.version, language)
    return render(
        "policy_version.html",
        spec=spec,
        content=content,
        superseded=policy.superseded_on(state.settings, spec),
        versions=_versions(state),
    )


def switch_language(code: str) -> BaseResponse:
    state = get_state()
    if code not in state.settings.languages:
        abort(404)
    target = safe_next(request.args.get("next"), url_for(".policy"))
    # The lang query argument of the page we came from would override the cookie.
    if "lang=" in target:
        parts = urlsplit(target)
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "lang"])
        target = urlunsplit(("", "", parts.path, query, ""))
    return set_language_cookie(redirect(target), code)
