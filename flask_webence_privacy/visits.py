"""The optional visit log (``PRIVACY_VISIT_LOG``): time, path, truncated IP and
browser family of each page view, written after the response, kept on the
default (1-year) clock."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator

import sqlalchemy as sa
from flask import Flask, Response, request

from .net import stored_ip
from .registry import Rule, RuleContext
from .state import State, get_state

log = logging.getLogger(__name__)

_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("other", re.compile(r"\b(OPR|Opera|SamsungBrowser|YaBrowser)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS|Chromium)/")),
    ("Safari", re.compile(r"\bSafari/")),
)


def browser_family(user_agent: str | None) -> str:
    """"Chrome", "Firefox", "Safari", "Edge" or "other": never a version, so the
    value cannot help fingerprint anyone."""
    for family, pattern in _BROWSERS:
        if user_agent and pattern.search(user_agent):
            return family
    return "other"


def record_visit(engine: sa.Engine, table: sa.Table, *, path: str, ip: str | None,
                 user_agent: str | None, when: dt.datetime | None = None) -> None:
    """Store one visit in its own short transaction, apart from the host's session."""
    values: dict[str, object] = {"path": path[:255], "ip": ip,
                                 "browser": browser_family(user_agent)}
    if when is not None:
        values["created_at"] = when
    with engine.begin() as connection:
        connection.execute(sa.insert(table).values(**values))


def _log_visit(response: Response) -> Response:
    if request.method != "GET" or response.status_code >= 400:
        return response
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return response
    state = get_state()
    engine, table = state.db.engine, state.models.VisitLog.__table__
    # The route, not the path: "/privacy/request/<token>" keeps no token, and no
    # query string (search terms) is ever stored.
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    path, ip, agent = rule, stored_ip(state.settings), request.headers.get("User-Agent")

    def write() -> None:
        # After the response is closed the request's own session is gone, so the
        # insert never waits on (or commits) the host's transaction.
        try:
            record_visit(engine, table, path=path, ip=ip, user_agent=agent)
        except Exception as exc:  # noqa: BLE001 - a visit log must never break the page
            # The type only: a database error's text carries the path and IP.
            log.warning("visit log: could not record a visit (%s)", type(exc).__name__)

    response.call_on_close(write)
    return response


def init_app(app: Flask, state: State) -> None:
    """Start the visit log when the site asked for it."""
    if state.settings.visit_log:
        app.after_request(_log_visit)


def rules(context: RuleContext) -> Iterator[Rule]:
    """Visits go after the default category's period."""
    VisitLog = context.models.VisitLog
    category = context.settings.category("default")
    cutoff = category.cutoff(context.now)
    yield Rule(VisitLog.__table__, "VisitLog", category.name, cutoff,
               VisitLog.created_at < cutoff)
