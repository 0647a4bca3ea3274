"""The privacy page, its earlier versions, and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, abort, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from .. import policy
from ..language import current_language
from ..state import State, get_state
from .common import render, safe_next, set_language_cookie


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
    state = get_state()
    language = current_language()
    content = policy.page_content(state.settings, state.sources, language)
    return render("policy.html", content=content, versions=_versions(state), earlier=None)


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
