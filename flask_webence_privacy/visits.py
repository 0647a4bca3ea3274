"""The optional visit log (``PRIVACY_VISIT_LOG``) and its analysis.

Each page view keeps its time, route, truncated IP, browser family, the host of
another site that linked to it, and a visitor hash: truncated IP and browser
under a salt that rotates daily and is deleted after two days, as GoatCounter
and Plausible count, so a day's unique visitors are known and nobody can be
followed from one day to the next. Nothing needs a cookie.

The analysis reads roll-ups (:class:`VisitDailyRow`): a finished day, and each
finished hour of today, is aggregated in SQL once, on the ``created_at`` index;
only the current hour (and today's unique visitors) is counted from the log, so
the page takes the same time whatever the log holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast
from urllib.parse import unquote, urlsplit

import crawleruseragents  # type: ignore[import-untyped]  # ships no type hints
import sqlalchemy as sa
import ua_parser
from flask import Flask, Request, Response, current_app, request
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from . import caches
from .config import RetentionCategory, Settings
from .models import utcnow
from .net import client_ip, storable_ip
from .policy import format_period
from .registry import Rule, RuleContext
from .state import State, get_state
from .text import has_control
from .worker import Worker, one_connection

log = logging.getLogger(__name__)

#: Days the analysis page and ``flask privacy visits`` show by default.
DEFAULT_DAYS = 30
#: What each roll-up row counts (with an hour suffix, today's finished hours).
KINDS = ("total", "path", "referrer", "browser")
#: Rows of each top list on the page.
TOP = 10

#: A User-Agent longer than this is no browser's: a machine, and not parsed.
AGENT_LONGEST = 1024
#: Families the parser gives clients that are not a person's browser, beyond
#: those on the crawler list (it names most of them too).
MACHINE_FAMILIES = frozenset({
    "HeadlessChrome", "curl", "Python Requests", "Python-urllib", "Go-http-client",
    "Wget", "PhantomJS", "Apache-HttpClient", "okhttp", "Java", "Spider"})
#: Request headers a browser sends when it fetches a page ahead of a click
#: (speculation rules, link prefetch, link previews): no one saw the page.
PURPOSE_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
AHEAD = ("prefetch", "prerender", "preview")


class Agent(NamedTuple):
    """What a User-Agent header is: a machine (counted, never a page view), or a
    person's browser and its family (never a version)."""

    machine: bool
    browser: str


MACHINE = Agent(True, "other")


def _classify(user_agent: str) -> Agent:
    if crawleruseragents.is_crawler(user_agent):
        return MACHINE
    parsed = ua_parser.parse(user_agent)
    family = parsed.user_agent.family if parsed.user_agent else "Other"
    device = parsed.device.family if parsed.device else ""
    if family in MACHINE_FAMILIES or device == "Spider":
        return MACHINE
    # The parser's own family names ("Chrome Mobile", "Mobile Safari"), cut to
    # the column; its catch-all "Other" is written as the log always had it.
    return Agent(False, "other" if family == "Other" else family[:40])


def classify(user_agent: str | None) -> Agent:
    """A machine (none, too long, on the maintained crawler list, or a client the
    parser names as a script or headless browser) or a browser family from the
    parser's built-in rules; any length and any characters, kept nowhere."""
    if not user_agent or len(user_agent) > AGENT_LONGEST:
        return MACHINE
    return caches.agent_for(user_agent, lambda: _classify(user_agent))


def browser_family(user_agent: str | None) -> str:
    """The browser family the parser names ("Firefox", "Chrome", "Safari",
    "Edge", "Mobile Safari", ...; "other" when it knows none): never a version,
    so the value cannot help fingerprint anyone."""
    return classify(user_agent).browser


def ahead_of_time(environ: dict[str, Any]) -> bool:
    """Whether the browser fetched the page ahead of a click (prefetch, prerender
    or a link preview), so nobody has seen it yet."""
    for header in PURPOSE_HEADERS:
        value = environ.get(header)
        if value and any(word in value.lower() for word in AHEAD):
            return True
    return False


def referrer_host(referrer: str | None, own_host: str | None) -> str | None:
    """The host name of another site that linked here; never a path or query
    (they can carry search terms or tokens), and nothing for this site itself,
    nor a "host" with a control character in it (it was typed, not linked)."""
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or has_control(host):
        return None
    own = (own_host or "").split(":")[0].lower()
    if host == own:
        return None
    return host[:255]


def referrer_route(referrer: str | None, own_host: str | None, routes: Map | None,
                   script_root: str = "") -> str | None:
    """The route of this site's page that linked here (``/privacy/request/<token>``,
    never its path or query); "" for a page of this site without a route; None
    when the referrer is not this site (none, another site, not a URL): the
    view is an entry."""
    if not referrer or not own_host or routes is None:
        return None
    try:
        parts = urlsplit(referrer)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or host != own_host.split(":")[0].lower():
        return None
    path = unquote(parts.path) or "/"
    if script_root:
        if not path.startswith(script_root):
            return ""
        path = path[len(script_root):] or "/"
    try:
        rule, _ = routes.bind(own_host, script_name=script_root or None,
                              url_scheme=parts.scheme).match(
            path, method="GET", return_rule=True)
    except (HTTPException, ValueError, UnicodeError):  # no page: 404, 405, a redirect
        return ""
    if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
        return ""
    return rule.rule[:255]


# -- the daily salt ------------------------------------------------------------------

#: Per engine (a process may serve several databases): day -> salt.
_salts: weakref.WeakKeyDictionary[sa.Engine, dict[dt.date, str]] = weakref.WeakKeyDictionary()
_salts_lock = threading.Lock()


def _salt(engine: sa.Engine, table: sa.Table, day: dt.date) -> str:
    """The day's salt: made by the first visit of the day, shared by every process
    through the database; older salts are deleted then, so none outlives the day
    after its own. Its own short transactions, once per process and day."""
    with _salts_lock:
        known = _salts.get(engine, {}).get(day)
    if known is not None:
        return known
    with engine.connect() as connection:
        salt = connection.scalar(sa.select(table.c.salt).where(table.c.day == day))
    if salt is None:
        candidate = secrets.token_hex(32)
        try:
            with engine.begin() as connection:
                connection.execute(sa.insert(table).values(day=day, salt=candidate))
            salt = candidate
        except IntegrityError:  # another process made it first
            with engine.connect() as connection:
                salt = connection.scalar(sa.select(table.c.salt).where(table.c.day == day))
        with engine.begin() as connection:
            connection.execute(sa.delete(table).where(table.c.day < day - dt.timedelta(days=1)))
    with _salts_lock:
        # Only the newest day is kept in memory: an older salt is not needed again.
        _salts[engine] = {day: str(salt)}
    return str(salt)


def visitor_hash(salt: str, ip: str | None, user_agent: str | None) -> str:
    """Truncated IP and browser under the day's salt: the same visitor on the same
    day, never linkable to another day once the salt is gone."""
    text = f"{salt}\0{ip or ''}\0{user_agent or ''}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


class Visit(NamedTuple):
    """A page view as the request saw it; made storable (IP truncated, browser
    family, referrer host, visitor hash) when it is written. A named tuple: one is
    made on every page of the site, and a frozen dataclass took 2.5 times as long.

    ``path`` is the route that matched (``/privacy/request/<token>``), never what
    the visitor typed."""

    path: str
    ip: str | None
    user_agent: str | None
    when: dt.datetime
    referrer: str | None = None
    own_host: str | None = None
    script_root: str = ""


def record_visits(engine: sa.Engine, table: sa.Table, salts: sa.Table, settings: Settings,
                  visits: Sequence[Visit], routes: Map | None = None) -> int:
    """Store page views together: one transaction and one multi-row INSERT. What
    the log keeps is made here, off the pages' time: the route, the IP truncated,
    the browser family, the referrer's host (another site) or the route it came
    from (this site, matched against ``routes``) and, under the day's salt, the hash.
    How many were stored: a batch the database refuses is tried row by row, so
    one row it will not take costs no other visitor's view."""
    rows = []
    for visit in visits:
        ip = storable_ip(settings, visit.ip)
        rows.append({
            "path": visit.path[:255], "ip": ip, "browser": browser_family(visit.user_agent),
            "referrer": referrer_host(visit.referrer, visit.own_host),
            "came_from": referrer_route(visit.referrer, visit.own_host, routes,
                                        visit.script_root),
            "visitor": visitor_hash(_salt(engine, salts, visit.when.date()), ip,
                                    visit.user_agent),
            "created_at": visit.when})
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(table), rows)
        return len(rows)
    except (DataError, IntegrityError):
        if len(rows) == 1:
            raise
    stored, refused = 0, ""
    for row in rows:
        try:
            with engine.begin() as connection:
                connection.execute(sa.insert(table), [row])
            stored += 1
        except (DataError, IntegrityError) as exc:
            refused = type(exc).__name__
    # The type only: the driver's message carries the row's values.
    log.warning("visit log: the database refused %d of %d page views (%s); the others "
                "are stored", len(rows) - stored, len(rows), refused)
    return stored


#: A page view waits in memory at most this long before it is written, with
#: every other one of that moment, in one transaction: one write per page view
#: cost a commit (on SQLite a sync to disk) for every page the site served.
FLUSH_SECONDS = 1.0
#: ... or until this many are waiting.
FLUSH_ROWS = 500
#: A log that cannot be written (its database down) keeps no more than this:
#: page views beyond it are not counted, and memory stays bounded.
MAX_WAITING = 10_000
#: Hours and days are rolled up only this long after they end, so page views
#: still waiting in another worker's memory are counted in them.
SETTLE = dt.timedelta(seconds=30)


#: The app's visit writer on its state (``State.workers``).
JOB = "visits"


class _Automated:
    """One app's automated requests counted in this process, per day, until the
    writer adds them to :class:`VisitAutomatedRow`: a bot's request costs no
    database write of its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[dt.date, int] = {}
        self.pid = os.getpid()
        #: Whether the writer has been asked to write the counts (one ask waits at a time).
        self.asked = False

    def count(self, day: dt.date) -> bool:
        """Count one; whether the writer must be asked to write (not asked yet)."""
        with self.lock:
            if self.pid != os.getpid():  # a forked worker: the parent's counts are its own
                self.counts, self.asked, self.pid = {}, False, os.getpid()
            self.counts[day] = self.counts.get(day, 0) + 1
            ask, self.asked = not self.asked, True
            return ask

    def take(self) -> dict[dt.date, int]:
        with self.lock:
            if self.pid != os.getpid():
                self.counts, self.pid = {}, os.getpid()
            counts, self.counts, self.asked = self.counts, {}, False
            return counts

    def give_back(self, counts: dict[dt.date, int]) -> None:
        with self.lock:
            for day, n in counts.items():
                self.counts[day] = self.counts.get(day, 0) + n


_automated: weakref.WeakKeyDictionary[Flask, _Automated] = weakref.WeakKeyDictionary()


def add_automated(engine: sa.Engine, table: sa.Table, counts: dict[dt.date, int]) -> None:
    """Add counted automated requests to their days' rows: one short transaction
    per day (an update, or the day's first insert; a process that inserted it at
    the same moment makes this one update instead)."""
    for day, n in sorted(counts.items()):
        for attempt in range(2):
            try:
                with engine.begin() as connection:
                    updated = connection.execute(sa.update(table).where(table.c.day == day)
                                                 .values(requests=table.c.requests + n))
                    if not updated.rowcount:
                        connection.execute(sa.insert(table).values(day=day, requests=n))
                break
            except IntegrityError:
                if attempt:
                    raise


def _write_automated(app: Flask) -> None:
    found = _automated.get(app)
    counts = found.take() if found is not None else {}
    if not counts:
        return
    state = get_state(app)
    try:
        add_automated(state.db.engine, state.models.VisitAutomated.__table__, counts)
    except Exception as exc:  # noqa: BLE001 - a visit log must never break a page
        cast(_Automated, found).give_back(counts)
        log.warning("visit log: could not add automated requests (%s)", type(exc).__name__)


def _write(batch: list[Visit | None]) -> int:
    """The visit writer's job: one batch, in the app's context (``None`` in it
    asks for the automated requests counted so far to be added too)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = get_state(app)
    models = state.models
    views = [visit for visit in batch if visit is not None]
    stored = 0
    if views:
        try:
            stored = record_visits(state.db.engine, models.VisitLog.__table__,
                                   models.VisitSalt.__table__, state.settings, views,
                                   app.url_map)
        except Exception as exc:  # noqa: BLE001 - a visit log must never break a page
            # The type only: a database error's text carries paths and IPs.
            log.warning("visit log: could not record %d page view%s (%s)",
                        len(views), "" if len(views) == 1 else "s", type(exc).__name__)
    _write_automated(app)
    return stored


def writer(app: Flask) -> Worker[Visit | None]:
    """The app's visit writer in this process: page views gathered in memory and
    written together about once a second (:mod:`.worker`)."""
    return cast(Worker[Visit | None], get_state(app).workers[JOB])


def flush(app: Flask) -> int:
    """Write this process's waiting page views and automated requests now (the
    analysis does this first; a test can too). Other processes' follow within
    :data:`FLUSH_SECONDS`."""
    found = get_state(app).workers.get(JOB)
    if found is None:
        return 0
    written = found.flush()
    with app.app_context():
        _write_automated(app)
    return written


def _log_visit(response: Response) -> Response:
    # This runs on every page of the site: the request and the app are looked up
    # once, not through their proxies at each use (that was a third of its time).
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    method = req.method
    if method not in ("GET", "HEAD") or response.status_code >= 400:
        return response
    endpoint = req.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return response
    # The route, not the path: "/privacy/request/<token>" keeps no token, and no
    # query string (search terms) is ever stored. Where no route matched (a path
    # Werkzeug redirects, as "/privacy//request/<token>"), nothing is: what is
    # left is what the visitor typed.
    if req.url_rule is None:
        return response
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = get_state(app)
    worker = cast(Worker[Visit | None], state.workers[JOB])
    environ = req.environ
    user_agent = environ.get("HTTP_USER_AGENT")
    when = utcnow()
    # A machine, a HEAD request or a page fetched ahead of a click is no page
    # view: counted in memory, written with the next batch.
    if method == "HEAD" or ahead_of_time(environ) or classify(user_agent).machine:
        if _automated[app].count(when.date()):
            worker.submit((None,))
        return response
    referrer = environ.get("HTTP_REFERER")
    visit = Visit(path=req.url_rule.rule, ip=client_ip(state.settings),
                  user_agent=user_agent, when=when, referrer=referrer,
                  own_host=req.host if referrer else None,
                  script_root=req.script_root if referrer else "")
    worker.submit((visit,))
    return response


def init_app(app: Flask, state: State) -> None:
    """Start the visit log when the site asked for it: its writer, and a page
    view handed to it after each page."""
    if not state.settings.visit_log:
        return
    db = state.db
    _automated[app] = _Automated()
    state.workers[JOB] = Worker(
        app, "privacy-visits", _write, delay=FLUSH_SECONDS, batch=FLUSH_ROWS,
        limit=MAX_WAITING,
        dropped="visit log: %d page views not counted (the log could not keep up)",
        inline=lambda: one_connection(db))
    app.after_request(_log_visit)


# -- the analysis --------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: dt.date
    views: int
    visitors: int
    #: Requests that were not page views (machines, HEAD, prefetch).
    automated: int = 0


@dataclass(frozen=True)
class Totals:
    """A period's page views, unique visitors (each day's, added up: nobody can
    be followed from one day to the next) and automated requests."""

    start: dt.date
    end: dt.date
    views: int
    visitors: int
    automated: int

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "views": self.views, "visitors": self.visitors, "automated": self.automated}


@dataclass(frozen=True)
class Summary:
    """What the analysis page and ``flask privacy visits`` show."""

    start: dt.date
    end: dt.date
    days: list[Day]
    paths: list[tuple[str, int]]
    referrers: list[tuple[str, int]]
    browsers: list[tuple[str, int]]
    #: Days of data the retention period keeps (the default category's).
    retention_days: int
    views: int = field(default=0)
    visitors: int = field(default=0)
    automated: int = field(default=0)
    #: Routes visitors arrived at from another site or none.
    entries: list[tuple[str, int]] = field(default_factory=list)
    #: (route came from, route opened, views) within this site.
    flows: list[tuple[str, str, int]] = field(default_factory=list)
    #: The same totals for the period of the same length before this one.
    previous: Totals | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "retention_days": self.retention_days, "views": self.views,
            "visitors": self.visitors,
            "days": [{"day": d.day.isoformat(), "views": d.views, "visitors": d.visitors}
                     for d in self.days],
            "automated": [{"day": d.day.isoformat(), "requests": d.automated}
                          for d in self.days],
            "previous": self.previous.as_json() if self.previous else None,
            "paths": [{"path": p, "views": n} for p, n in self.paths],
            "entries": [{"path": p, "views": n} for p, n in self.entries],
            "flows": [{"from": f, "to": t, "views": n} for f, t, n in self.flows],
            "referrers": [{"host": h, "views": n} for h, n in self.referrers],
            "browsers": [{"browser": b, "views": n} for b, n in self.browsers],
        }


def _aggregate(connection: sa.Connection, log_table: sa.Table, start: dt.datetime,
               end: dt.datetime) -> list[dict[str, Any]]:
    """One day's counts per kind, aggregated by the database on the time index."""
    c = log_table.c
    in_day = sa.and_(c.created_at >= start, c.created_at < end)
    views, visitors = sa.func.count().label("views"), sa.func.count(sa.distinct(c.visitor))
    rows: list[dict[str, Any]] = []
    total = connection.execute(sa.select(views, visitors).where(in_day)).one()
    rows.append({"kind": "total", "label": "", "views": total[0], "visitors": total[1]})
    for kind, column in (("path", c.path), ("referrer", c.referrer), ("browser", c.browser)):
        query = (sa.select(column, views, visitors.label("visitors"))
                 .where(in_day, column.is_not(None)).group_by(column))
        rows += [{"kind": kind, "label": label, "views": n, "visitors": v}
                 for label, n, v in connection.execute(query)]
    return rows


def _aggregate_routes(connection: sa.Connection, log_table: sa.Table, start: dt.datetime,
                      end: dt.datetime) -> list[dict[str, Any]]:
    """Entries (no page of this site before) and steps from one route to the next,
    in a window, aggregated by the database on the time index."""
    c = log_table.c
    in_window = sa.and_(c.created_at >= start, c.created_at < end)
    views = sa.func.count()
    rows = [{"kind": "entry", "source": "", "route": route, "views": n}
            for route, n in connection.execute(
                sa.select(c.path, views).where(in_window, c.came_from.is_(None))
                .group_by(c.path))]
    rows += [{"kind": "flow", "source": source, "route": route, "views": n}
             for source, route, n in connection.execute(
                 sa.select(c.came_from, c.path, views)
                 .where(in_window, c.came_from.is_not(None), c.came_from != "")
                 .group_by(c.came_from, c.path))]
    return rows


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min)


def roll_up(state: State, today: dt.date | None = None, days: int = DEFAULT_DAYS) -> int:
    """Roll up the finished days of the last ``days`` not rolled up yet; returns
    how many. A day rolled up by another process at the same time is skipped."""
    today = today or utcnow().date()
    models = state.models
    daily, log_table = models.VisitDaily.__table__, models.VisitLog.__table__
    routes = models.VisitRouteDaily.__table__
    first = today - dt.timedelta(days=days - 1)
    done = 0
    with state.db.engine.connect() as connection:
        have = set(connection.scalars(sa.select(daily.c.day).where(
            daily.c.kind == "total", daily.c.day >= first, daily.c.day < today)))
        oldest = connection.scalar(sa.select(sa.func.min(log_table.c.created_at)))
        for offset in range(days - 1):
            day = first + dt.timedelta(days=offset)
            if day in have:
                continue
            # Before the first logged visit there is nothing to count: a zero row
            # still marks the day as done.
            route_rows: list[dict[str, Any]] = []
            if oldest is None or _midnight(day + dt.timedelta(days=1)) <= oldest:
                rows = [{"kind": "total", "label": "", "views": 0, "visitors": 0}]
            else:
                start, end = _midnight(day), _midnight(day + dt.timedelta(days=1))
                rows = _aggregate(connection, log_table, start, end)
                route_rows = _aggregate_routes(connection, log_table, start, end)
            try:
                # The day's hourly roll-ups (made while it was today) are replaced.
                for table in (daily, routes):
                    connection.execute(sa.delete(table).where(
                        table.c.day == day, table.c.kind.like(f"%{HOUR}%")))
                connection.execute(sa.insert(daily), [{"day": day, **r} for r in rows])
                if route_rows:
                    connection.execute(sa.insert(routes),
                                       [{"day": day, **r} for r in route_rows])
                connection.commit()
                done += 1
            except IntegrityError:
                connection.rollback()
    return done


#: Today is rolled up per finished hour (kind "path@09" and so on), so a render
#: reads the log of the current hour only, however busy the day has been; the
#: day's own roll-up replaces those rows once it is over.
HOUR = "@"


def _hours_done(today: dt.date, now: dt.datetime) -> int:
    if today < now.date():
        return 24
    return now.hour if today == now.date() else 0


def _roll_up_hours(connection: sa.Connection, daily: sa.Table, routes: sa.Table,
                   log_table: sa.Table, today: dt.date, hours: int) -> None:
    have = set(connection.scalars(sa.select(daily.c.kind).where(
        daily.c.day == today, daily.c.kind.like(f"total{HOUR}%"))))
    for hour in range(hours):
        suffix = f"{HOUR}{hour:02d}"
        if "total" + suffix in have:
            continue
        start = _midnight(today) + dt.timedelta(hours=hour)
        end = start + dt.timedelta(hours=1)
        rows = _aggregate(connection, log_table, start, end)
        route_rows = _aggregate_routes(connection, log_table, start, end)
        try:
            connection.execute(sa.insert(daily), [
                {**r, "day": today, "kind": r["kind"] + suffix} for r in rows])
            if route_rows:
                connection.execute(sa.insert(routes), [
                    {**r, "day": today, "kind": r["kind"] + suffix} for r in route_rows])
            connection.commit()
        except IntegrityError:  # another process rolled it up first
            connection.rollback()


RouteKey = tuple[str, str, str]


def _today(connection: sa.Connection, models: Any, now: dt.datetime
           ) -> tuple[Day, dict[str, dict[str, int]], dict[RouteKey, int]]:
    """Today's views and unique visitors, its views per kind and label, and per
    entry and step: the finished hours from their roll-ups (summed in SQL), the
    current hour from the log; unique visitors over the whole day (they do not
    add up by hour)."""
    daily, log_table = models.VisitDaily.__table__, models.VisitLog.__table__
    routes = models.VisitRouteDaily.__table__
    today = now.date()
    # An hour, likewise, once every worker has written its page views of it.
    hours = _hours_done(today, now - SETTLE)
    _roll_up_hours(connection, daily, routes, log_table, today, hours)
    counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    # "path@09" -> "path"; grouped by its alias (the same expression twice would
    # carry its parameters twice, which PostgreSQL does not see as one).
    base = sa.func.substr(daily.c.kind, 1, sa.func.length(daily.c.kind) - 3).label("base")
    summed = connection.execute(
        sa.select(base, daily.c.label, sa.func.sum(daily.c.views))
        .where(daily.c.day == today, daily.c.kind.like(f"%{HOUR}%"))
        .group_by(sa.literal_column("base"), daily.c.label))
    hour_start = _midnight(today) + dt.timedelta(hours=hours)
    tomorrow = _midnight(today + dt.timedelta(days=1))
    live = _aggregate(connection, log_table, hour_start, tomorrow)
    for kind, label, views in [*summed, *((r["kind"], r["label"], r["views"]) for r in live)]:
        if kind in counts:
            counts[kind][label] = counts[kind].get(label, 0) + int(views or 0)
    route_base = sa.func.substr(routes.c.kind, 1,
                                sa.func.length(routes.c.kind) - 3).label("base")
    moves: dict[RouteKey, int] = {}
    summed_routes = connection.execute(
        sa.select(route_base, routes.c.source, routes.c.route, sa.func.sum(routes.c.views))
        .where(routes.c.day == today, routes.c.kind.like(f"%{HOUR}%"))
        .group_by(sa.literal_column("base"), routes.c.source, routes.c.route))
    live_routes = _aggregate_routes(connection, log_table, hour_start, tomorrow)
    for kind, source, route, views in [
            *summed_routes, *((r["kind"], r["source"], r["route"], r["views"])
                              for r in live_routes)]:
        key = (kind, source, route)
        moves[key] = moves.get(key, 0) + int(views or 0)
    c = log_table.c
    visitors = connection.scalar(sa.select(sa.func.count(sa.distinct(c.visitor))).where(
        c.created_at >= _midnight(today), c.created_at < tomorrow))
    return Day(today, counts["total"].get("", 0), int(visitors or 0)), counts, moves


def retention(settings: Settings) -> RetentionCategory:
    """The period of visits and their roll-ups: the default category's. The purge
    rule, the analysis page and the privacy page all read it here."""
    return settings.category("default")


def period(settings: Settings) -> str:
    """How long visits (and their daily counts) are kept, as the privacy page says it."""
    return format_period(retention(settings))


def retention_days(state: State, today: dt.date | None = None) -> int:
    """How many days of visits the retention period keeps."""
    now = _midnight(today or utcnow().date())
    return (now - retention(state.settings).cutoff(now)).days


def _top(counts: dict[Any, int]) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]


def summary(state: State, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> Summary:
    """Page views, unique visitors and automated requests per day, top routes,
    entries, steps between routes, referrer hosts and browsers for the last
    ``days`` (today included), and the totals of the ``days`` before; ``now``
    (UTC) for a command or a test that needs another clock."""
    now = now or utcnow()
    today = now.date()
    days = max(1, days)
    flush(current_app._get_current_object())  # type: ignore[attr-defined]
    # A day is rolled up once every worker has written its page views of it;
    # the previous period's days too (once: a finished day is never again).
    roll_up(state, min(today, (now - SETTLE).date()), 2 * days)
    models = state.models
    daily, routes = models.VisitDaily.__table__, models.VisitRouteDaily.__table__
    automated_table = models.VisitAutomated.__table__
    first = today - dt.timedelta(days=days - 1)
    before = first - dt.timedelta(days=days)
    per_day: dict[dt.date, Day] = {}
    tops: dict[str, dict[str, int]] = {"path": {}, "referrer": {}, "browser": {}}
    moves: dict[RouteKey, int] = {}
    previous_views = previous_visitors = 0
    with state.db.engine.connect() as connection:
        totals = connection.execute(sa.select(daily.c.day, daily.c.views, daily.c.visitors).where(
            daily.c.kind == "total", daily.c.day >= before, daily.c.day < today))
        for day, views, visitors in totals:
            if day >= first:
                per_day[day] = Day(day, views, visitors)
            else:
                previous_views, previous_visitors = (previous_views + views,
                                                     previous_visitors + visitors)
        summed = connection.execute(
            sa.select(daily.c.kind, daily.c.label, sa.func.sum(daily.c.views))
            .where(daily.c.kind.in_(tuple(tops)), daily.c.day >= first, daily.c.day < today)
            .group_by(daily.c.kind, daily.c.label))
        for kind, label, views in summed:
            tops[kind][label] = int(views or 0)
        summed_routes = connection.execute(
            sa.select(routes.c.kind, routes.c.source, routes.c.route, sa.func.sum(routes.c.views))
            .where(routes.c.kind.in_(("entry", "flow")), routes.c.day >= first,
                   routes.c.day < today)
            .group_by(routes.c.kind, routes.c.source, routes.c.route))
        for kind, source, route, views in summed_routes:
            moves[(kind, source, route)] = int(views or 0)
        automated = dict(connection.execute(
            sa.select(automated_table.c.day, automated_table.c.requests).where(
                automated_table.c.day >= before, automated_table.c.day <= today)).all())
        per_day[today], live, live_moves = _today(connection, models, now)
    for kind, counts in tops.items():
        for label, views in live[kind].items():
            counts[label] = counts.get(label, 0) + views
    for key, views in live_moves.items():
        moves[key] = moves.get(key, 0) + views
    series = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        found = per_day.get(day, Day(day, 0, 0))
        series.append(Day(day, found.views, found.visitors, int(automated.get(day, 0))))
    previous = Totals(before, first - dt.timedelta(days=1), previous_views, previous_visitors,
                      sum(int(n) for day, n in automated.items() if day < first))
    return Summary(start=first, end=today, days=series, paths=_top(tops["path"]),
                   referrers=_top(tops["referrer"]), browsers=_top(tops["browser"]),
                   retention_days=retention_days(state, today),
                   views=sum(d.views for d in series), visitors=sum(d.visitors for d in series),
                   automated=sum(d.automated for d in series),
                   entries=_top({route: n for (kind, _, route), n in moves.items()
                                 if kind == "entry"}),
                   flows=[(source, route, n) for (source, route), n in _top(
                       {(source, route): n for (kind, source, route), n in moves.items()
                        if kind == "flow"})],
                   previous=previous)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: Day


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: Day


@dataclass(frozen=True)
class Tick:
    """A labelled mark on an axis: where (along it) and what it stands for."""

    at: float
    count: int = 0
    day: dt.date | None = None


@dataclass(frozen=True)
class Chart:
    """Page views (bars) and unique visitors (a line) per day, with both axes
    labelled, in SVG coordinates: drawn on the server, so the page needs no script."""

    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bars: list[Bar]
    points: list[Point]
    counts: list[Tick]
    dates: list[Tick]
    peak: int

    @property
    def line(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def bottom(self) -> int:
        return self.top + self.plot_height


def _step(peak: int, marks: int = 4) -> int:
    """A round step (1, 2, 5 times a power of ten) that marks ``peak`` in at
    most ``marks`` steps."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * marks >= peak:
                return step * factor
        step *= 10


def chart(days: Sequence[Day], width: int = 640, height: int = 240) -> Chart:
    """The chart of ``days``, scaled to a round count above the busiest day;
    dates marked at most seven times (first and last always)."""
    left, top, right, bottom = 48, 12, 12, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    peak = max((max(d.views, d.visitors) for d in days), default=0)
    step = _step(max(peak, 1))
    scale_top = step * max(1, -(-peak // step))
    slot = plot_width / max(len(days), 1)
    bars, points = [], []
    for index, day in enumerate(days):
        bar_height = round(plot_height * day.views / scale_top, 1)
        x = left + index * slot
        bars.append(Bar(x=round(x + slot * 0.1, 1), y=round(top + plot_height - bar_height, 1),
                        width=round(max(slot * 0.8, 1), 1), height=bar_height, day=day))
        points.append(Point(x=round(x + slot / 2, 1),
                            y=round(top + plot_height * (1 - day.visitors / scale_top), 1),
                            day=day))
    counts = [Tick(at=round(top + plot_height * (1 - n / scale_top), 1), count=n)
              for n in range(0, scale_top + 1, step)]
    every = max(1, -(-len(days) // 7))
    marked = sorted({*range(0, len(days), every), len(days) - 1} - {-1})
    if len(marked) > 1 and marked[-1] - marked[-2] < every:
        del marked[-2]  # the last date's label would overlap the one before
    dates = [Tick(at=points[i].x, day=days[i].day) for i in marked]
    return Chart(width, height, left, top, plot_width, plot_height, bars, points, counts,
                 dates, peak)


def change(current: int, previous: int) -> int | None:
    """The change from ``previous`` to ``current`` in whole percent; None where
    there was nothing before to compare with."""
    if previous <= 0:
        return None
    return round((current - previous) * 100 / previous)

# -- retention -----------------------------------------------------------------------


def rules(context: RuleContext) -> Iterator[Rule]:
    """Visits go after :func:`retention`'s period; a day's roll-up once its last
    visit has (never longer than the visits it counts); a salt the day after the
    day it salted."""
    models = context.models
    VisitLog, VisitDaily, VisitSalt = models.VisitLog, models.VisitDaily, models.VisitSalt
    VisitRouteDaily, VisitAutomated = models.VisitRouteDaily, models.VisitAutomated
    category = retention(context.settings)
    cutoff = category.cutoff(context.now)
    yield Rule(VisitLog.__table__, "VisitLog", category.name, cutoff,
               VisitLog.created_at < cutoff)
    yield Rule(VisitDaily.__table__, "VisitDaily", category.name, cutoff,
               VisitDaily.day < cutoff.date())
    yield Rule(VisitRouteDaily.__table__, "VisitRouteDaily", category.name, cutoff,
               VisitRouteDaily.day < cutoff.date())
    yield Rule(VisitAutomated.__table__, "VisitAutomated", category.name, cutoff,
               VisitAutomated.day < cutoff.date())
    salt_cutoff = _midnight(context.now.date() - dt.timedelta(days=1))
    yield Rule(VisitSalt.__table__, "VisitSalt", "two days", salt_cutoff,
               VisitSalt.day < salt_cutoff.date())
