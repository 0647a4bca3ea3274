"""The cookie settings page and the banner a host puts in its layout.

Both post the same plain form (CSRF, no script); the rules live in
:mod:`flask_webence_privacy.cookies`.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    after_this_request,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .. import cookies
from ..forms import PrivacyForm
from ..i18n import gettext as _
from ..language import current_language, speaking
from ..policy import current_version
from ..state import State, get_state, remember
from ..transactions import DatabaseUnavailable, retrying
from .common import BLUEPRINT, keep_language, render, safe_next


class ChoiceForm(PrivacyForm):
    """The CSRF token only: the boxes and buttons are read as plain values, so an
    unknown type is ignored rather than refused."""


def init_views(bp: Blueprint, state: State) -> None:
    # Only against flooding the ledger: visitors behind one office address share it.
    view = state.limiter.limit("300 per hour", methods=["POST"])(cookie_settings)
    # The form checks its token itself (PrivacyForm), so an expired one gets a
    # page that says what to do, not a bare 400.
    bp.add_url_rule("/cookies", "cookies", view, methods=["GET", "POST"])


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
    form = ChoiceForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render("cookies.html", 400, form=form, expired=True,
                          types=_types(state, language),
                          functional=cookies.cookies_of(state.settings, "functional", language),
                          next=safe_next(request.form.get("next"), ""))
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
    return render("cookies.html", form=form, types=_types(state, language),
                  functional=cookies.cookies_of(state.settings, "functional", language),
                  saved=request.args.get("saved") == "1",
                  next=safe_next(request.args.get("next"), ""))


def _saved_url() -> str:
    values: dict[str, Any] = {"saved": "1", **keep_language()}
    return url_for(".cookies", **values)


#: Stand-ins for the per-visitor values in the cached banner (no template output
#: can hold a NUL, so none is mistaken for them).
_TOKEN, _NEXT, _NEXT_QUERY = "\x00token\x00", "\x00next\x00", "\x00next-query\x00"
_STAND_IN_KEPT = "_webence_privacy_stand_in_kept"


def banner() -> Markup:
    """``privacy_cookie_banner()``: the banner until this browser has answered for
    every optional type under the current policy version; nothing otherwise, and
    nothing on a site without optional cookies or on the settings page itself."""
    state = get_state()

    @after_this_request
    def vary(response: Response) -> Response:
        # The page differs per visitor's choice cookie: no shared cache may mix them.
        response.vary.add("Cookie")
        return response

    if request.endpoint == f"{BLUEPRINT}.cookies" or not cookies.needs_asking(state):
        return Markup("")
    language = current_language()
    here, keep = _here(), keep_language()
    # What differs per visitor (the CSRF token, the page to return to) is put into
    # a banner rendered once per language, policy version and ?lang=: the banner is
    # on every page until the visitor answers, and rendering it each time cost a
    # quarter of the privacy page. The token alone, not a form object, for the same
    # reason.
    key = ("cookie-banner", language, current_version(state.settings).version,
           keep.get("lang", ""), request.script_root)

    def make() -> Markup:
        values: dict[str, Any] = dict(keep)
        settings_page = url_for(f"{BLUEPRINT}.cookies", **values)
        join = "&" if "?" in settings_page else "?"
        # On a host's page (in the host's language, maybe one the package has not)
        # the banner is in the package's language and says so in its lang.
        with speaking(language):
            # The template autoescapes everything it puts in; the result is safe HTML.
            return Markup(render_template(  # noqa: S704
                "webence_privacy/_cookie_banner.html", csrf_token=_TOKEN, next=_NEXT,
                settings_url=f"{settings_page}{join}next={_NEXT_QUERY}",
                title=_("Cookies on this website"), language=language,
                types=[{"statement": cookies.statement(state.settings, kind, language)}
                       for kind in cookies.optional_types(state.settings)]))

    cached = state.kept(key, make)
    html = (str(cached).replace(_NEXT_QUERY, str(escape(quote(here, safe="/"))))
            .replace(_NEXT, str(escape(here))))
    if g.get(_STAND_IN_KEPT):
        return Markup(html)  # noqa: S704 - the page is kept; KeptPage.body() puts it in
    return Markup(fill_token(html))  # noqa: S704


def fill_token(html: str) -> str:
    """Put this visitor's CSRF token into HTML made with the banner's stand-in."""
    return html.replace(_TOKEN, _token_html()) if _TOKEN in html else html


def _token_html() -> str:
    return str(escape(csrf_token()))


class KeptPage(NamedTuple):
    """A page kept whole as the bytes it is sent as, cut where the stand-in of
    the banner's token was: a visit joins them around its own token (encoding
    the page and searching it for the stand-in on every visit was about 5 % of
    what the visit cost)."""

    parts: tuple[bytes, ...]

    def body(self) -> bytes:
        """The page for this visitor, their token put in."""
        if len(self.parts) == 1:
            return self.parts[0]
        return _token_html().encode().join(self.parts)


def keep_page(html: str) -> KeptPage:
    """HTML made by :func:`render_keepable`, as a :class:`KeptPage`."""
    return KeptPage(tuple(part.encode() for part in html.split(_TOKEN)))


#: A visitor's signed CSRF token is handed out again for this long (at most a
#: tenth of its validity): signing one was a tenth of a kept page's time, on
#: every page until the visitor answers the banner.
TOKEN_REUSE_SECONDS = 60.0
#: Visitors whose tokens are kept at once; then all go.
TOKEN_REUSE_MAX = 4096


def csrf_token() -> str:
    """Flask-WTF's token for this visitor, the one signed for them in the last
    minute if there is one: the same check accepts it (the raw token in their
    session, the signature, an age within ``WTF_CSRF_TIME_LIMIT``)."""
    # On every page until the visitor answers: each proxy is looked up once.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    here = g._get_current_object()
    config = app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in here:
        return str(generate_csrf())  # this request's own
    limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
    reuse = TOKEN_REUSE_SECONDS if limit is None else min(TOKEN_REUSE_SECONDS, limit / 10)
    tokens = get_state(app).csrf_tokens
    now = time.monotonic()
    found = tokens.get(session.get(field) or "")
    if found is not None and now - found[0] < reuse:
        setattr(here, field, found[1])  # every form of this request gets the same
        return found[1]
    token = str(generate_csrf())
    raw = session.get(field)  # made by generate_csrf for a visitor's first
    if isinstance(raw, str):
        remember(tokens, raw, (now, token), TOKEN_REUSE_MAX)
    return token


def render_keepable(template: str, **context: Any) -> str:
    """Render a page that is the same for every visitor but for the banner's CSRF
    token, with the token's stand-in left in: the page can be kept, and each
    visitor's token put in by :func:`keep_page` and :meth:`KeptPage.body`."""
    g.setdefault(_STAND_IN_KEPT, True)
    try:
        return render_template(template, **context)
    finally:
        g.pop(_STAND_IN_KEPT, None)
