"""Thin views: read the form, call one domain function, render.

Each feature keeps its routes in its own module with an ``init_views(bp, state)``;
this module builds the one blueprint they share and registers the template
helpers of :mod:`.common`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Request, Response, request
from sqlalchemy.exc import SQLAlchemyError

from .. import doctor, labels
from ..config import localize
from ..i18n import gettext, ngettext
from ..language import LANGUAGE_COOKIE, asked_language, current_language, speaking
from ..policy import find_source, record_if_missing, source_period
from ..setup import exempt_from_host_csrf
from ..state import State, get_state
from . import admin, breaches, contact, cookies, newsletter, policy, portal, report, visits
from .common import (
    BLUEPRINT,
    PACKAGE,
    content_security_policy,
    in_visitor_language,
    keep_language,
    language_switch_url,
    mail_links,
    render,
    set_language_cookie,
    url_or_none,
)

log = logging.getLogger("flask_webence_privacy")


def source_period_named(state: State, name: str) -> str:
    """The period of the registered source ``name`` (forms and mails say it)."""
    source = find_source(state.sources, name)
    if source is None:
        raise LookupError(f"no registered source {name!r}")
    return source_period(state.settings, source)


def security_headers_of(csp: str) -> dict[bool, tuple[tuple[str, str, str], ...]]:
    """What every page of the package answers with (a view's own value wins), and
    over https HSTS too: by ``request.is_secure``, each header as (lower-cased
    name, name, value)."""
    plain = (
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
    )
    secure = (*plain, ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return {is_secure: tuple((name.lower(), name, value) for name, value in wanted)
            for is_secure, wanted in ((False, plain), (True, secure))}


def add_missing(response: Response, wanted: tuple[tuple[str, str, str], ...],
                have: set[str]) -> None:
    """The security headers, each unless the answer set its own (``have``: the
    lower-cased names it carries)."""
    response.headers.extend([(name, value) for low, name, value in wanted if low not in have])


def _being_updated() -> Response:
    """503 while the package's tables are missing, out of date or unreachable."""
    with speaking(current_language()):
        return render("error.html", 503, title=gettext("This page is being updated"),
                      message=gettext("Please try again in a few minutes."))


def register_views(app: Flask, state: State) -> None:
    bp = Blueprint(
        BLUEPRINT,
        __name__,
        template_folder=str(PACKAGE / "templates"),
        static_folder=str(PACKAGE / "static" / "webence_privacy"),
        static_url_path="/static",
    )

    # Each feature keeps its routes in its own module (imported here, below the
    # helpers they use from this one).
    for module in (policy, contact, newsletter, portal, admin, cookies, visits, report, breaches):
        module.init_views(bp, state)

    @bp.url_value_preprocessor
    def leave_to_own_forms(endpoint: str | None, values: dict[str, Any] | None) -> None:
        # Runs before every before_request hook, the host's CSRFProtect's included.
        exempt_from_host_csrf(app, bp, state.host_csrf_exempted)

    @bp.before_request
    def tables_up_to_date() -> Response | None:
        """Once per process: a site deployed without running its migrations gets a
        clear page and a log line that says what to run, not an SQL traceback."""
        current = get_state()
        if current.schema_problems is None:
            try:
                found = [str(f) for f in doctor.tables(current)]
            except SQLAlchemyError:
                # The database is away (a restart, a cut): the visitor gets the
                # "try again" page, and the next request looks again.
                current.db.session.rollback()
                log.warning("flask-webence-privacy: the database does not answer")
                return _being_updated()
            current.schema_problems = found
            current.db.session.rollback()
            for problem in current.schema_problems:
                log.error("flask-webence-privacy: %s", problem)
            if not current.schema_problems:
                # A site on migrations that forgot `flask privacy sync-policy` still
                # records what its page says (the first worker to get here does).
                record_if_missing(current.db, current.models, current.settings,
                                  current.sources, current.periods)
        return _being_updated() if current.schema_problems else None

    wanted = security_headers_of(content_security_policy(state.settings.csp))

    @bp.after_request
    def security_headers(response: Response) -> Response:
        settings = get_state().settings
        req: Request = request._get_current_object()  # type: ignore[attr-defined]  # once
        headers = response.headers
        # One pass over the headers for all the checks below (this runs on every
        # page of the package; setdefault would walk them once per header).
        have = {key.lower() for key in headers.keys()}  # noqa: SIM118 - Headers
        if settings.security_headers:
            add_missing(response, wanted[req.is_secure], have)
        # The page differs by language and by the visitor's cookies and Global
        # Privacy Control signal (the banner asks or not).
        if "vary" in have:
            response.vary.update(("Accept-Language", "Cookie", "Sec-GPC"))  # one rewrite
        else:
            headers.add("Vary", "Accept-Language, Cookie, Sec-GPC")
        # A language chosen by ?lang= (a link, a mail) stays chosen on the next page.
        chosen = asked_language(settings)
        if chosen is not None and req.cookies.get(LANGUAGE_COOKIE) != chosen:
            set_language_cookie(response, chosen)
        return response

    prefix = state.settings.url_prefix.rstrip("/")
    if prefix and state.settings.security_headers:
        @app.after_request
        def routing_answers_too(response: Response) -> Response:
            """A 404, 405 or slash redirect under the prefix matched no view of the
            blueprint, so its hooks did not run: the headers go on here. Only under
            the prefix: the host's own answers are left as they are."""
            req: Request = request._get_current_object()  # type: ignore[attr-defined]
            path = req.path
            if req.blueprint is None and (path == prefix or path.startswith(prefix + "/")):
                add_missing(response, wanted[req.is_secure],
                            {key.lower() for key in response.headers.keys()})  # noqa: SIM118
            return response

    @bp.errorhandler(404)
    def not_found(error: Exception) -> Response:
        with speaking(current_language()):
            return render("error.html", 404, title_code="not_found")

    app.register_blueprint(bp, url_prefix=state.settings.url_prefix)
    cookies.init_well_known(app)
    if not state.own_babel:
        # The host's Flask-Babel selector chooses its own pages' language; the
        # package's pages speak the package's choice, text, dates and lang alike.
        for endpoint, view in list(app.view_functions.items()):
            if endpoint.startswith(BLUEPRINT + "."):
                app.view_functions[endpoint] = in_visitor_language(view)

    # Globals, not a context processor: imported macros see globals only.
    app.jinja_env.globals.update(
        _wp=gettext,
        _wpn=ngettext,
        privacy_lang=current_language,
        privacy_switch_url=language_switch_url,
        privacy_url=url_or_none,
        privacy_keep_lang=keep_language,
        privacy_min_age=lambda: get_state().settings.min_consent_age,
    )
    # Every date and label a page or mail shows, through one function each.
    app.jinja_env.filters["privacy_date"] = lambda v: labels.date_text(v, with_time=False)
    app.jinja_env.filters["privacy_datetime"] = labels.date_text
    app.jinja_env.filters["privacy_mail_links"] = mail_links
    app.jinja_env.globals.update(
        privacy_kind_label=labels.kind_label,
        privacy_status_label=labels.status_label,
        privacy_consent_purpose=labels.consent_purpose,
        privacy_period=lambda name: source_period_named(get_state(), name),
    )
    app.jinja_env.filters["privacy_text"] = lambda v: localize(v, current_language())

    @app.context_processor
    def privacy_context() -> dict[str, Any]:
        settings = get_state(app).settings
        return {
            "privacy_base": settings.base_template,
            "privacy_languages": settings.languages,
            "privacy_settings": settings,
        }
