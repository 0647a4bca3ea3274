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
import re
import secrets
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, Request, Response, current_app, request
from sqlalchemy.exc import DataError, IntegrityError

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


def record_visits(engine: sa.Engine, table: sa.Table, salts: sa.Table, settings: Settings,
                  visits: Sequence[Visit]) -> int:
    """Store page views together: one transaction and one multi-row INSERT. What
    the log keeps is made here, off the pages' time: the route, the IP truncated,
    the browser family, the referrer's host and, under the day's salt, the hash.
    How many were stored: a batch the database refuses is tried row by row, so
    one row it will not take costs no other visitor's view."""
    rows = []
    for visit in visits:
        ip = storable_ip(settings, visit.ip)
        rows.append({
            "path": visit.path[:255], "ip": ip, "browser": browser_family(visit.user_agent),
            "referrer": referrer_host(visit.referrer, visit.own_host),
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


def _write(batch: list[Visit]) -> int:
    """The visit writer's job: one batch, in the app's context."""
    state = get_state()
    models = state.models
    try:
        return record_visits(state.db.engine, models.VisitLog.__table__,
                             models.VisitSalt.__table__, state.settings, batch)
    except Exception as exc:  # noqa: BLE001 - a visit log must never break a page
        # The type only: a database error's text carries paths and IPs.
        log.warning("visit log: could not record %d page view%s (%s)",
                    len(batch), "" if len(batch) == 1 else "s", type(exc).__name__)
        return 0


def writer(app: Flask) -> Worker[Visit]:
    """The app's visit writer in this process: page views gathered in memory and
    written together about once a second (:mod:`.worker`)."""
    return cast(Worker[Visit], get_state(app).workers[JOB])


def flush(app: Flask) -> int:
    """Write this process's waiting page views now (the analysis does this first;
    a test can too). Other processes' follow within :data:`FLUSH_SECONDS`."""
    found = get_state(app).workers.get(JOB)
    return found.flush() if found is not None else 0


def _log_visit(response: Response) -> Response:
    # This runs on every page of the site: the request and the app are looked up
    # once, not through their proxies at each use (that was a third of its time).
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    if req.method != "GET" or response.status_code >= 400:
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
    state = get_state(current_app._get_current_object())  # type: ignore[attr-defined]
    environ = req.environ
    referrer = environ.get("HTTP_REFERER")
    visit = Visit(path=req.url_rule.rule, ip=client_ip(state.settings),
                  user_agent=environ.get("HTTP_USER_AGENT"), when=utcnow(),
                  referrer=referrer, own_host=req.host if referrer else None)
    cast(Worker[Visit], state.workers[JOB]).submit((visit,))
    return response


def init_app(app: Flask, state: State) -> None:
    """Start the visit log when the site asked for it: its writer, and a page
    view handed to it after each page."""
    if not state.settings.visit_log:
        return
    db = state.db
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

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "retention_days": self.retention_days, "views": self.views,
            "days": [{"day": d.day.isoformat(), "views": d.views, "visitors": d.visitors}
                     for d in self.days],
            "paths": [{"path": p, "views": n} for p, n in self.paths],
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


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min)


def roll_up(state: State, today: dt.date | None = None, days: int = DEFAULT_DAYS) -> int:
    """Roll up the finished days of the last ``days`` not rolled up yet; returns
    how many. A day rolled up by another process at the same time is skipped."""
    today = today or utcnow().date()
    models = state.models
    daily, log_table = models.VisitDaily.__table__, models.VisitLog.__table__
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
            if oldest is None or _midnight(day + dt.timedelta(days=1)) <= oldest:
                rows = [{"kind": "total", "label": "", "views": 0, "visitors": 0}]
            else:
                rows = _aggregate(connection, log_table, _midnight(day),
                                  _midnight(day + dt.timedelta(days=1)))
            try:
                connection.execute(sa.insert(daily), [{"day": day, **r} for r in rows])
                # The day's hourly roll-ups (made while it was today) are replaced.
                connection.execute(sa.delete(daily).where(
                    daily.c.day == day, daily.c.kind.like(f"%{HOUR}%")))
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


def _roll_up_hours(connection: sa.Connection, daily: sa.Table, log_table: sa.Table,
                   today: dt.date, hours: int) -> None:
    have = set(connection.scalars(sa.select(daily.c.kind).where(
        daily.c.day == today, daily.c.kind.like(f"total{HOUR}%"))))
    for hour in range(hours):
        suffix = f"{HOUR}{hour:02d}"
        if "total" + suffix in have:
            continue
        start = _midnight(today) + dt.timedelta(hours=hour)
        rows = _aggregate(connection, log_table, start, start + dt.timedelta(hours=1))
        try:
            connection.execute(sa.insert(daily), [
                {**r, "day": today, "kind": r["kind"] + suffix} for r in rows])
            connection.commit()
        except IntegrityError:  # another process rolled it up first
            connection.rollback()


def _today(connection: sa.Connection, daily: sa.Table, log_table: sa.Table,
           now: dt.datetime) -> tuple[Day, dict[str, dict[str, int]]]:
    """Today's views and unique visitors, and its views per kind and label: the
    finished hours from their roll-ups (summed in SQL), the current hour from
    the log; unique visitors over the whole day (they do not add up by hour)."""
    today = now.date()
    # An hour, likewise, once every worker has written its page views of it.
    hours = _hours_done(today, now - SETTLE)
    _roll_up_hours(connection, daily, log_table, today, hours)
    counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    # "path@09" -> "path"; grouped by its alias (the same expression twice would
    # carry its parameters twice, which PostgreSQL does not see as one).
    base = sa.func.substr(daily.c.kind, 1, sa.func.length(daily.c.kind) - 3).label("base")
    summed = connection.execute(
        sa.select(base, daily.c.label, sa.func.sum(daily.c.views))
        .where(daily.c.day == today, daily.c.kind.like(f"%{HOUR}%"))
        .group_by(sa.literal_column("base"), daily.c.label))
    live = _aggregate(connection, log_table, _midnight(today) + dt.timedelta(hours=hours),
                      _midnight(today + dt.timedelta(days=1)))
    for kind, label, views in [*summed, *((r["kind"], r["label"], r["views"]) for r in live)]:
        if kind in counts:
            counts[kind][label] = counts[kind].get(label, 0) + int(views or 0)
    c = log_table.c
    visitors = connection.scalar(sa.select(sa.func.count(sa.distinct(c.visitor))).where(
        c.created_at >= _midnight(today), c.created_at < _midnight(today + dt.timedelta(days=1))))
    return Day(today, counts["total"].get("", 0), int(visitors or 0)), counts


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


def summary(state: State, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> Summary:
    """Page views and unique visitors per day, top routes, referrer hosts and
    browsers for the last ``days`` (today included); ``now`` (UTC) for a command
    or a test that needs another clock."""
    now = now or utcnow()
    today = now.date()
    days = max(1, days)
    flush(current_app._get_current_object())  # type: ignore[attr-defined]
    # A day is rolled up once every worker has written its page views of it.
    roll_up(state, min(today, (now - SETTLE).date()), days)
    models = state.models
    daily, log_table = models.VisitDaily.__table__, models.VisitLog.__table__
    first = today - dt.timedelta(days=days - 1)
    per_day: dict[dt.date, Day] = {}
    tops: dict[str, dict[str, int]] = {"path": {}, "referrer": {}, "browser": {}}
    with state.db.engine.connect() as connection:
        totals = connection.execute(sa.select(daily.c.day, daily.c.views, daily.c.visitors).where(
            daily.c.kind == "total", daily.c.day >= first, daily.c.day < today))
        for day, views, visitors in totals:
            per_day[day] = Day(day, views, visitors)
        summed = connection.execute(
            sa.select(daily.c.kind, daily.c.label, sa.func.sum(daily.c.views))
            .where(daily.c.kind.in_(tuple(tops)), daily.c.day >= first, daily.c.day < today)
            .group_by(daily.c.kind, daily.c.label))
        for kind, label, views in summed:
            tops[kind][label] = int(views or 0)
        per_day[today], live = _today(connection, daily, log_table, now)
    for kind, counts in tops.items():
        for label, views in live[kind].items():
            counts[label] = counts.get(label, 0) + views
    series = [per_day.get(first + dt.timedelta(days=i), Day(first + dt.timedelta(days=i), 0, 0))
              for i in range(days)]

    def top(kind: str) -> list[tuple[str, int]]:
        return sorted(tops[kind].items(), key=lambda item: (-item[1], item[0]))[:TOP]

    return Summary(start=first, end=today, days=series, paths=top("path"),
                   referrers=top("referrer"), browsers=top("browser"),
                   retention_days=retention_days(state, today),
                   views=sum(d.views for d in series))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: Day


def chart(days: Sequence[Day], width: int = 600, height: int = 160) -> list[Bar]:
    """The bars of the page-view chart, scaled to the busiest day: drawn on the
    server as SVG, so the page needs no script."""
    peak = max((d.views for d in days), default=0) or 1
    step = width / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        bar_height = round(height * day.views / peak, 1)
        bars.append(Bar(x=round(index * step + 1, 1), y=round(height - bar_height, 1),
                        width=round(max(step - 2, 1), 1), height=bar_height, day=day))
    return bars


# -- retention -----------------------------------------------------------------------


def rules(context: RuleContext) -> Iterator[Rule]:
    """Visits go after :func:`retention`'s period; a day's roll-up once its last
    visit has (never longer than the visits it counts); a salt the day after the
    day it salted."""
    models = context.models
    VisitLog, VisitDaily, VisitSalt = models.VisitLog, models.VisitDaily, models.VisitSalt
    category = retention(context.settings)
    cutoff = category.cutoff(context.now)
    yield Rule(VisitLog.__table__, "VisitLog", category.name, cutoff,
               VisitLog.created_at < cutoff)
    yield Rule(VisitDaily.__table__, "VisitDaily", category.name, cutoff,
               VisitDaily.day < cutoff.date())
    salt_cutoff = _midnight(context.now.date() - dt.timedelta(days=1))
    yield Rule(VisitSalt.__table__, "VisitSalt", "two days", salt_cutoff,
               VisitSalt.day < salt_cutoff.date())
