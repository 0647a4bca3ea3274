"""The privacy page, its earlier versions, and the language switch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
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
from .cookies import KeptPage, keep_page, render_keepable


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


def policy_page() -> Response:
    """The page's article depends on the language, the policy version, the day
    and where the app is mounted; never on the visitor. It is rendered once for
    each and kept, so a visit costs what rendering the frame costs."""
    state = get_state()
    language = current_language()
    version = policy.current_version(state.settings)
    key = (language, version.version, dt.date.today().isoformat(), request.script_root)

    def article_html() -> Markup:
        content = policy.page_content(state.settings, state.sources, language, state.periods)
        # Autoescaped by Jinja when rendered: safe to mark as markup.
        return Markup(render_template("webence_privacy/_policy_article.html",  # noqa: S704
                                      content=content, versions=_versions(state)))

    article = state.kept(key, article_html)
    if not _keepable(state):
        return render("policy.html", article=article)
    # With the package's own frame the whole page is the same for every visitor
    # who asks it in one language at one URL, but for the cookie banner (shown
    # or not) and its CSRF token: kept whole, the token put in per visitor.
    asking = "banner" if cookies.needs_asking(state) else "no banner"

    def page() -> KeptPage:
        return keep_page(render_keepable("webence_privacy/policy.html", article=article))

    kept = state.kept(("policy-page", *key, request.full_path, asking), page)
    return Response(kept.body(), mimetype="text/html")


def _keepable(state: State) -> bool:
    """A page can be kept whole in the package's own frame (a host's layout, or
    its override of one of the page's templates, may show per-visitor things: a
    name, a basket), at a URL without a query string but exactly
    ``?lang=<a site language>`` (any other would make endless copies)."""
    if state.own_frame is None:
        state.own_frame = _package_files((*KEPT_TEMPLATES, state.settings.base_template))
    if not state.own_frame:
        return False
    query = request.query_string.decode("latin-1")
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
