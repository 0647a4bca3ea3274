"""The cookie settings page and the banner a host puts in its layout.

Both post the same plain form (no script, no token): the browser's own word on
where the post comes from guards it (:mod:`flask_webence_privacy.origin`), so
the banner carries nothing per visitor and a page that shows it opens no session
and sets no cookie. The rules live in :mod:`flask_webence_privacy.cookies`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Flask,
    Response,
    after_this_request,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape

from .. import cookies
from ..i18n import gettext as _
from ..language import current_language, speaking
from ..origin import from_elsewhere
from ..policy import current_version
from ..state import State, get_state
from ..transactions import DatabaseUnavailable, retrying
from .common import BLUEPRINT, keep_language, render, safe_next


def init_views(bp: Blueprint, state: State) -> None:
    # Only against flooding the ledger: visitors behind one office address share it.
    view = state.limiter.limit("300 per hour", methods=["POST"])(cookie_settings)
    bp.add_url_rule("/cookies", "cookies", view, methods=["GET", "POST"])


#: Where a site states that it honours Global Privacy Control (the GPC spec's
#: well-known resource), at the site's root.
GPC_PATH = "/.well-known/gpc.json"


def init_well_known(app: Flask) -> None:
    """Serve ``/.well-known/gpc.json`` unless the host serves it itself: the one
    route the package adds outside its prefix, because the specification fixes
    where it lives."""
    if any(rule.rule == GPC_PATH for rule in app.url_map.iter_rules()):
        return
    app.add_url_rule(GPC_PATH, f"{BLUEPRINT}_gpc", gpc_json)


def gpc_json() -> Response:
    """``{"gpc": true, "lastUpdate": "<date>"}``: the date the current policy,
    which says the signal is honoured, took effect."""
    settings = get_state().settings
    response = jsonify(gpc=True, lastUpdate=current_version(settings).effective.isoformat())
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _types(state: State, language: str) -> list[dict[str, Any]]:
    found = cookies.current_choice(state)
    return [{"kind": kind, "label": cookies.type_label(kind),
             "statement": cookies.statement(state.settings, kind, language),
             "cookies": cookies.cookies_of(state.settings, kind, language),
             "given": found is not None and kind in found.given,
             "answered": found is not None and found.complete}
            for kind in cookies.optional_types(state.settings)]


def _here() -> str:
    """Where the banner's form sends the visitor back to: this page."""
    return request.full_path if request.query_string else request.path


def cookie_settings() -> Any:
    state = get_state()
    language = current_language()
    if request.method == "POST":
        if from_elsewhere(request, state.settings, current_app.config):
            # A page of another site sent it: nothing is saved, nothing is set, and
            # the answer is the same whichever header gave it away.
            return render("error.html", 403, title=_("Your choice could not be saved"),
                          message=_("Nothing was saved. Please make your choice again."))
        choice = request.form.get("choice")
        kinds = cookies.optional_types(state.settings)
        if not kinds:
            # Nothing to choose on this site: no record and no cookie.
            return redirect(safe_next(request.form.get("next"), request.script_root + "/"), 303)
        wanted = kinds if choice == "all" else () if choice == "none" else request.form.getlist("type")
        where = cookies.BANNER_FORM if request.form.get("via") == "banner" else cookies.SETTINGS_FORM
        try:
            token, found = retrying(state, lambda: cookies.save(state, wanted, where))
        except DatabaseUnavailable:
            return render("error.html", 503, title=_("Your choice could not be saved"),
                          message=_("Please try again in a few minutes. Until then, only "
                                    "functional cookies are used."))
        # Back where the visitor was (off-site: the home page); from the settings
        # page itself, to the page again with a confirmation.
        target = request.form.get("next")
        destination = (safe_next(target, request.script_root + "/") if target
                       else _saved_url())
        response = redirect(destination, 303)
        cookies.apply(response, token, found, state.settings)
        return response
    return render("cookies.html", types=_types(state, language),
                  gpc=cookies.gpc_signal() and cookies.current_choice(state) is None,
                  functional=cookies.cookies_of(state.settings, "functional", language),
                  saved=request.args.get("saved") == "1",
                  next=safe_next(request.args.get("next"), ""))


def _saved_url() -> str:
    values: dict[str, Any] = {"saved": "1", **keep_language()}
    return url_for(".cookies", **values)


#: Stand-ins for the page the banner sends the visitor back to, in the banner
#: kept per language (no template output can hold a NUL, so none is mistaken
#: for them).
_NEXT, _NEXT_QUERY = "\x00next\x00", "\x00next-query\x00"


def banner() -> Markup:
    """``privacy_cookie_banner()``: the banner until this browser has answered for
    every optional type under the current policy version; nothing otherwise, and
    nothing on a site without optional cookies or on the settings page itself.
    The same for every visitor of a page in one language: nothing per visitor."""
    state = get_state()

    @after_this_request
    def vary(response: Response) -> Response:
        # Shown or not by the visitor's choice cookie, worded in their language:
        # a shared cache keeps one copy per language and choice, never mixes them.
        response.vary.update(("Accept-Language", "Cookie", "Sec-GPC"))
        return response

    if request.endpoint == f"{BLUEPRINT}.cookies" or not cookies.needs_asking(state):
        return Markup("")
    language = current_language()
    here, keep = _here(), keep_language()
    key = ("cookie-banner", language, current_version(state.settings).version,
           keep.get("lang", ""), request.script_root)

    def make() -> str:
        values: dict[str, Any] = dict(keep)
        settings_page = url_for(f"{BLUEPRINT}.cookies", **values)
        join = "&" if "?" in settings_page else "?"
        # On a host's page (in the host's language, maybe one the package has not)
        # the banner is in the package's language and says so in its lang.
        with speaking(language):
            return render_template(
                "webence_privacy/_cookie_banner.html", next=_NEXT,
                settings_url=f"{settings_page}{join}next={_NEXT_QUERY}",
                title=_("Cookies on this website"), language=language,
                types=[{"statement": cookies.statement(state.settings, kind, language)}
                       for kind in cookies.optional_types(state.settings)])

    # The template autoescapes everything it puts in, and the page is escaped
    # here: the result is safe HTML.
    return Markup(state.caches.page(key, make)  # noqa: S704
                  .replace(_NEXT_QUERY, str(escape(quote(here, safe="/"))))
                  .replace(_NEXT, str(escape(here))))
