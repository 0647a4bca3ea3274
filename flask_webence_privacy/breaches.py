"""Reports of misuse and breach files (GDPR arts. 33 and 34).

A visitor who sees signs of misuse reports it on ``/report``; the report opens a
breach file and the maintainer is mailed at once, in the same transaction: the
controller must notify the Autoriteit Persoonsgegevens within
:data:`NOTIFY_WITHIN` of becoming aware of a breach, so the clock runs from the
report. The file records what the maintainer learns and does (art. 33(5): the
facts, the effects, the measures taken, whether and when the authority was
notified, whether the people were told).

The registry knows every source of personal data, so a breach is scoped from it
(:func:`scope`): per source the rows and distinct persons created or changed in
a window, in counts, never a list of people (SECURITY.md 49). :func:`notify`
mails each affected person the maintainer's text once (art. 34).

Nothing here reads the request: views and the CLI pass plain values.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from . import address, mail
from .config import Settings, localize
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .models import BreachFileRow, Models, insert_all, utcnow
from .policy import format_period
from .registry import Rule, RuleContext, Source, make_source
from .requests.lifecycle import admin_link
from .state import State
from .text import has_control

log = logging.getLogger(__name__)

#: GDPR art. 33(1): the authority is notified within 72 hours of awareness.
NOTIFY_WITHIN = dt.timedelta(hours=72)
#: ``flask privacy remind`` names a file not notified this long after the report.
REMIND_AFTER = dt.timedelta(hours=48)
#: The purpose the report is stored under (the record and the data page say it).
PURPOSE = "security report"
#: Longest report and longest text on a breach file (the form's limits too).
MAX_DETAILS = 5000
MAX_TEXT = 10000
#: How times are written on the CLI and in the maintainer's mails.
TIME_FORMAT = "%Y-%m-%d %H:%M"
#: Mails queued per statement when the affected people are told.
NOTICE_BATCH = 200


class BreachError(ValueError):
    """A value the form or the command should have refused: ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownSource(LookupError):
    """``--source`` names no registered source."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"{name!r} is not a registered source; known: {', '.join(known)}")
        self.name = name
        self.known = tuple(known)


# -- the clock -----------------------------------------------------------------------------


def notify_hours() -> int:
    """:data:`NOTIFY_WITHIN` in hours, as the pages and the record say it."""
    return int(NOTIFY_WITHIN.total_seconds() // 3600)


def due(file: BreachFileRow) -> dt.datetime:
    """When the authority must have been notified: 72 hours after the report."""
    return file.created_at + NOTIFY_WITHIN


def due_text(file: BreachFileRow) -> str:
    return due(file).strftime(TIME_FORMAT)


def is_overdue(file: BreachFileRow, now: dt.datetime | None = None) -> bool:
    """Past its 72 hours and the authority not notified."""
    return file.authority_notified_at is None and due(file) < (now or utcnow())


def hours_left(file: BreachFileRow, now: dt.datetime | None = None) -> int:
    """Whole hours until :func:`due` (negative once past)."""
    return int((due(file) - (now or utcnow())).total_seconds() // 3600)


# -- a report --------------------------------------------------------------------------------


def _text(field: str, value: str | None, limit: int, *, required: bool = False) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise BreachError(field, "missing")
        return None
    if len(value) > limit or has_control(value, multiline=True):
        raise BreachError(field, "too long or with control characters")
    return value


def report(state: State, *, details: str, email: str | None, language: str) -> BreachFileRow:
    """Store a report of misuse as a new breach file, with the maintainer's mail
    in the same transaction; the mail leaves after the commit.

    Raises :class:`BreachError` for a value the form should have refused."""
    settings = state.settings
    text = _text("details", details, MAX_DETAILS, required=True)
    canonical = None
    if email and email.strip():
        try:
            canonical = address.canonical(email)
        except address.InvalidAddress as exc:
            raise BreachError("email", str(exc)) from None
    if language not in settings.languages:
        language = settings.default_language
    row = state.models.BreachFile(email=canonical, details=text, language=language,
                                  created_at=utcnow())
    try:
        # The file's id is not known before the insert; the mail names the due
        # time and links to the list, where the newest file is on top.
        [outbox] = mail.outbox_rows(state, [_maintainer_mail(state, row)])
        insert_all(state.db.session, [row, outbox])
        state.db.session.commit()
    except Exception:
        state.db.session.rollback()
        raise
    mail.dispatch(state, [outbox.id])
    return row


def _maintainer_mail(state: State, row: BreachFileRow) -> mail.Outgoing:
    settings: Settings = state.settings
    return mail.Outgoing(
        kind="breach-report",
        to=settings.notify_email,
        template="breach_report",
        language=settings.default_language,
        subject_email=row.email,
        reply_to=row.email,
        context={"details": row.details, "reporter": row.email or "",
                 "reported": row.created_at.strftime(TIME_FORMAT),
                 "due": due_text(row), "controller_name": settings.controller_name,
                 "admin_url": admin_link("admin_breaches")},
    )


# -- the files -------------------------------------------------------------------------------


def list_files(state: State, now: dt.datetime | None = None) -> list[BreachFileRow]:
    """Every file: those still on the clock (not notified) first, soonest due
    first; then the rest, newest first."""
    Breach = state.models.BreachFile
    rows = list(state.db.session.scalars(sa.select(Breach).order_by(Breach.created_at.desc(),
                                                                    Breach.id.desc())))
    moment = now or utcnow()
    return sorted(rows, key=lambda r: (r.authority_notified_at is not None,
                                       due(r) if r.authority_notified_at is None else moment))


def get(state: State, file_id: int) -> BreachFileRow | None:
    return state.db.session.get(state.models.BreachFile, file_id)


@dataclass(frozen=True)
class FileUpdate:
    """What the maintainer writes on a breach file (the admin form)."""

    facts: str | None = None
    effects: str | None = None
    measures: str | None = None
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    authority_notified_at: dt.datetime | None = None
    people_told_at: dt.datetime | None = None
    notice: str | None = None


def update(state: State, file: BreachFileRow, change: FileUpdate) -> BreachFileRow:
    """Write the maintainer's record on ``file``; the notice cannot change once sent."""
    check_window(change.window_start, change.window_end)
    texts = {name: _text(name, getattr(change, name), MAX_TEXT)
             for name in ("facts", "effects", "measures", "notice")}
    if file.notice_sent_at is not None and texts["notice"] != file.notice:
        raise BreachError("notice", "already sent to the people affected")
    for name, value in texts.items():
        setattr(file, name, value)
    file.window_start, file.window_end = change.window_start, change.window_end
    file.authority_notified_at = change.authority_notified_at
    # Once the notice went, the people were told, whatever the form says.
    file.people_told_at = change.people_told_at or file.notice_sent_at
    file.updated_at = utcnow()
    state.db.session.commit()
    return file


def check_window(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and until < since:
        raise BreachError("window_end", f"{until:%Y-%m-%d} is before {since:%Y-%m-%d}")


@dataclass
class Reminded:
    """The files :func:`remind` mailed about (none: no mail)."""

    files: list[BreachFileRow]
    mail_id: int | None = None


def remind(state: State, now: dt.datetime | None = None) -> Reminded:
    """Mail the maintainer the files past :data:`REMIND_AFTER` whose authority
    notification is not recorded, each once (cron may run this often)."""
    moment = now or utcnow()
    Breach = state.models.BreachFile
    files = list(state.db.session.scalars(
        sa.select(Breach).where(Breach.authority_notified_at.is_(None),
                                Breach.reminded_at.is_(None),
                                Breach.created_at <= moment - REMIND_AFTER)
        .order_by(Breach.created_at)))
    if not files:
        state.db.session.rollback()
        return Reminded([])
    for file in files:
        file.reminded_at = moment
    # No addresses in this mail: it stays in the outbox and lists several files.
    row = mail.queue(state, kind="breach-reminder", to=state.settings.notify_email,
                     template="breach_reminder", language=state.settings.default_language,
                     files=[{"id": f.id, "reported": f.created_at.strftime(TIME_FORMAT),
                             "due": due_text(f), "overdue": is_overdue(f, moment)}
                            for f in files],
                     admin_url=admin_link("admin_breaches"))
    state.db.session.commit()
    mail.dispatch(state, [row.id])
    return Reminded(files, row.id)


# -- scope: counts from the registry -----------------------------------------------------------


@dataclass(frozen=True)
class SourceScope:
    """One source's share of a breach window: counts only."""

    name: str
    label: str
    categories: tuple[str, ...]
    retention: str
    rows: int
    persons: int

    def as_json(self) -> dict[str, Any]:
        return {"source": self.name, "label": self.label, "categories": list(self.categories),
                "retention": self.retention, "rows": self.rows, "persons": self.persons}


@dataclass(frozen=True)
class Scope:
    since: dt.datetime
    until: dt.datetime
    sources: tuple[SourceScope, ...]
    #: Distinct persons over every source counted (one person in three tables is one).
    persons: int

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.sources)

    def as_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "rows": self.rows, "persons": self.persons,
                "sources": [s.as_json() for s in self.sources]}


def window(since: dt.date | dt.datetime, until: dt.date | dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The window as times: a date ``since`` from its midnight, a date ``until``
    through its last moment (the day is included). Refuses ``until`` before ``since``."""
    start = since if isinstance(since, dt.datetime) else dt.datetime.combine(since, dt.time())
    end = until if isinstance(until, dt.datetime) else (
        dt.datetime.combine(until, dt.time()) + dt.timedelta(days=1, microseconds=-1))
    if end < start:
        raise BreachError("until", f"{until} is before {since}")
    return start, end


def _in_window(source: Source, start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    stamp = source.column(source.timestamp)
    return sa.and_(stamp >= start, stamp <= end)


def _persons_query(source: Source, start: dt.datetime, end: dt.datetime) -> sa.Select[Any]:
    """The canonical address of each row in the window (through the owners for an
    owned source), as one column named ``person``."""
    return sa.select(source.subject_key().label("person")).where(_in_window(source, start, end))


def _count(state: State, source: Source, start: dt.datetime,
           end: dt.datetime) -> tuple[int, int]:
    keys = _persons_query(source, start, end).subquery("in_window")
    found = state.db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(keys.c.person)))).one()
    return int(found[0]), int(found[1])


def _pick(state: State, name: str | None) -> list[Source]:
    sources = state.sources
    if name is None:
        return sources
    chosen = [s for s in sources if s.name == name]
    if not chosen:
        raise UnknownSource(name, [s.name for s in sources])
    return chosen


def scope(state: State, since: dt.date | dt.datetime, until: dt.date | dt.datetime,
          source: str | None = None, language: str = "en") -> Scope:
    """Per registered source (or the one named ``source``), the rows created or
    changed in the window (its timestamp column) and the distinct persons they
    belong to, with its label (in ``language``; the CLI speaks English),
    categories of data and retention category."""
    start, end = window(since, until)
    chosen = _pick(state, source)
    found = []
    for one in chosen:
        rows, persons = _count(state, one, start, end)
        found.append(SourceScope(
            name=one.name, label=localize(one.label, language) or one.name,
            categories=one.exported_fields(), retention=one.retention_category(),
            rows=rows, persons=persons))
    everyone = sa.union(*(_persons_query(s, start, end) for s in chosen)).subquery("everyone")
    total = state.db.session.scalar(
        sa.select(sa.func.count()).select_from(everyone).where(everyone.c.person.is_not(None)))
    state.db.session.rollback()
    return Scope(start, end, tuple(found), int(total or 0))


def affected(state: State, start: dt.datetime, end: dt.datetime) -> list[str]:
    """Each person with a row in the window, once, as a canonical address: the
    addresses :func:`notify` mails, never printed. (MariaDB folds case by its
    collation and returns a host's spelling: canonical here, so one person is
    one mail.) A stored value that is no address is left out."""
    everyone = sa.union(*(_persons_query(s, start, end) for s in state.sources)).subquery("p")
    query = sa.select(everyone.c.person).where(everyone.c.person.is_not(None))
    found = set()
    for value in state.db.session.scalars(query):
        try:
            found.add(address.canonical(value))
        except address.InvalidAddress:
            log.warning("breach notice: a stored value in the window is not an address; skipped")
    return sorted(found)


# -- telling the people affected (art. 34) -----------------------------------------------------


@dataclass(frozen=True)
class Notified:
    """What :func:`notify` did: ``already`` when the notice had gone before."""

    file_id: int
    mailed: int
    already: bool = False
    sent_at: dt.datetime | None = None


def notify(state: State, file: BreachFileRow,
           progress: Callable[[int], None] | None = None) -> Notified:
    """Mail every person with a row in the file's window the maintainer's notice,
    through the outbox, once: the file is claimed by a conditional UPDATE in the
    transaction that queues the mails, so a second run (or a concurrent one)
    sends nothing. ``progress`` gets the number of mails queued in each batch."""
    if file.notice_sent_at is not None:
        return Notified(file.id, file.notice_count or 0, True, file.notice_sent_at)
    if not file.notice or file.window_start is None or file.window_end is None:
        raise BreachError("notice", "write the notice and the window on the breach file first")
    session, Breach = state.db.session, state.models.BreachFile
    now = utcnow()
    claimed = session.execute(
        sa.update(Breach).where(Breach.id == file.id, Breach.notice_sent_at.is_(None))
        .values(notice_sent_at=now, people_told_at=sa.func.coalesce(Breach.people_told_at, now))
        .execution_options(synchronize_session=False))
    if not getattr(claimed, "rowcount", 0):
        session.rollback()
        session.refresh(file)
        return Notified(file.id, file.notice_count or 0, True, file.notice_sent_at)
    settings = state.settings
    ids: list[int] = []
    batch: list[mail.Outgoing] = []

    def flush() -> None:
        ids.extend(q.id for q in mail.queue_all(state, batch))
        if progress is not None:
            progress(len(batch))
        batch.clear()

    try:
        for person in affected(state, file.window_start, file.window_end):
            batch.append(mail.Outgoing(
                kind="breach-notice", to=person, template="breach_notice",
                language=settings.default_language, subject_email=person,
                context={"notice": file.notice, "controller_name": settings.controller_name,
                         "contact_email": settings.contact_email}))
            if len(batch) >= NOTICE_BATCH:
                flush()
        if batch:
            flush()
        session.execute(sa.update(Breach).where(Breach.id == file.id)
                        .values(notice_count=len(ids))
                        .execution_options(synchronize_session=False))
        session.commit()
    except Exception:
        session.rollback()
        raise
    session.refresh(file)
    mail.dispatch(state, ids)
    return Notified(file.id, len(ids), False, now)


# -- as a source of personal data, with its retention ------------------------------------------


def _rules(source: Source, context: RuleContext) -> Iterator[Rule]:
    """A breach file is the documentation art. 33(5) asks for: kept one proof
    period (``PRIVACY_PROOF_RETENTION``) after the report, then removed."""
    Breach = context.models.BreachFile
    cutoff = context.settings.proof_retention.cutoff(context.now)
    yield Rule(source.table, source.name, "security-report", cutoff,
               Breach.created_at < cutoff, source.subject_key(),
               order=source.column(source.timestamp))


def period(settings: Settings) -> str:
    return _("%(proof)s after the report", proof=format_period(settings.proof_retention))


def source(models: Models) -> Source:
    """A report holds the reporter's address and words. Erasure on request takes
    those and keeps the file (the facts and measures are the business's record)."""
    return make_source(
        models.BreachFile,
        label={"en": "Reports of misuse", "nl": "Meldingen van misbruik"},
        purpose={"en": "Security report: investigating a possible breach of personal data",
                 "nl": "Beveiligingsmelding: een mogelijk datalek onderzoeken"},
        fields=("details", "created_at"),
        erase="anonymize",
        anonymize=("email", "details"),
        builtin=True,
        canonical_email=True,
        rules=_rules,
        period=period,
        field_labels={"details": _l("Your report"), "created_at": _l("Reported on")},
    )
