"""The privacy page, its earlier versions, and the language switch."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from .. import policy
from ..language import current_language
from ..state import State, get_state
from .common import render, safe_next, set_language_cookie

#: Articles kept at most (languages x versions x days x mounts); then all go.
PAGE_CACHE_SIZE = 32


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
    article = state.page_cache.get(key)
    if article is None:
        content = policy.page_content(state.settings, state.sources, language, state.periods)
        # Autoescaped by Jinja when rendered: safe to mark as markup.
        article = Markup(render_template("webence_privacy/_policy_article.html",  # noqa: S704
                                         content=content, versions=_versions(state)))
        if len(state.page_cache) >= PAGE_CACHE_SIZE:
            state.page_cache.clear()  # yesterday's pages and old versions go together
        state.page_cache[key] = article
    return render("policy.html", article=article)


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
