"""The package's own tables, defined on the host's Flask-SQLAlchemy instance.

The package never owns the database (Flask-Security's rule): its models are
built once per ``SQLAlchemy`` instance the host passes to ``init_app``, so the
host's ``db.create_all()`` and migrations see them like any other model. Every
table is prefixed ``privacy_``. All times are naive UTC.

Constraints carry names (``pk_<table>``, ``uq_<table>_<columns>``; indexes
``ix_<table>_<column>``), so Alembic can drop or alter them later whatever the
host's own naming convention. The columns are declared once, on typed mixins (``ContactMessageRow`` and so
on); the concrete classes are those mixins on the host's ``db.Model``. Code and
type checkers see the mixins, so every column has its type everywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

#: Length of every address column: RFC 5321's limit for a path.
ADDRESS_LENGTH = 254
#: Times keep their microseconds everywhere (MariaDB/MySQL's DATETIME drops them
#: unless asked): the order of records written in one second stays known.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def utcnow() -> dt.datetime:
    """Naive UTC: SQLite keeps no zone, so every stored time is UTC without one."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def insert(session: Any, row: Any) -> None:
    """Write one new ``row`` of the package's tables: :func:`insert_all`."""
    insert_all(session, [row])


def insert_all(session: Any, rows: Sequence[Any]) -> None:
    """Write new ``rows`` of the package's tables in ``session``'s transaction, in
    as few round trips as the database allows, and give each its id.

    For rows written once and not changed in the same request (a message, its
    consent proof, its mails): no unit-of-work flush, and the values go as
    parameters to a statement built once per shape, so its compiled form is
    cached. On PostgreSQL all rows go in one statement (each INSERT a
    data-modifying WITH query): a contact POST's four rows cost one round trip,
    not four. Elsewhere rows of one table in a row share a multi-row INSERT where
    the database returns its ids, else one INSERT each.

    Columns left unset get their Python-side defaults here, so every path writes
    the same values and the row holds them. The rows end detached with their
    identity: their values stay readable after the commit without a SELECT, and
    adding one to a session later updates it rather than inserting it again.
    """
    if not rows:
        return
    values = [_values(row) for row in rows]
    tables = [sa.inspect(row).mapper.local_table for row in rows]
    # The session's connection for these tables, executed on directly: the ORM's
    # execute path has nothing to do for Core INSERTs and costs as much again.
    connection = session.connection(bind_arguments={"clause": tables[0]})
    dialect = connection.dialect
    if len(rows) > 1 and dialect.name == "postgresql":
        # One statement: PostgreSQL runs every data-modifying WITH query.
        shape = tuple((table, tuple(v)) for table, v in zip(tables, values, strict=True))
        params = {f"r{n}_{key}": value for n, v in enumerate(values) for key, value in v.items()}
        ids = list(connection.execute(_combined_insert(shape), params).one())
    else:
        ids = []
        start = 0
        while start < len(rows):
            end = start + 1
            while end < len(rows) and tables[end] is tables[start] and (
                    values[end].keys() == values[start].keys()):
                end += 1
            ids += _insert_run(connection, tables[start], values[start:end])
            start = end
    for row, id_ in zip(rows, ids, strict=True):
        row.id = id_
        sa.orm.make_transient_to_detached(row)


def _values(row: Any) -> dict[str, Any]:
    """The row's column values, with the Python-side default of each one unset
    (set on the row too, so it reads as stored)."""
    state = sa.inspect(row)
    values = {}
    for attr in state.mapper.column_attrs:
        if attr.key in state.dict:
            values[attr.key] = state.dict[attr.key]
            continue
        default = attr.columns[0].default
        if default is None or not (default.is_scalar or default.is_callable):
            continue  # the primary key, or a column the database fills
        value = default.arg(None) if default.is_callable else default.arg
        setattr(row, attr.key, value)
        values[attr.key] = value
    return values


def _insert_run(connection: sa.Connection, table: sa.Table,
                values: list[dict[str, Any]]) -> list[int]:
    """Rows of one table with the same columns: one multi-row INSERT where the
    database returns its ids in order, else one INSERT each."""
    if len(values) > 1 and connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        return [int(i) for i in connection.execute(_returning_insert(table), values).scalars()]
    ids = []
    for one in values:
        key = connection.execute(_plain_insert(table), one).inserted_primary_key
        if key is None:  # pragma: no cover - a one-row INSERT always has its key
            raise RuntimeError(f"the new {table.name} row has no id")
        ids.append(int(key[0]))
    return ids


@functools.lru_cache(maxsize=64)
def _plain_insert(table: sa.Table) -> sa.Insert:
    return sa.insert(table)


@functools.lru_cache(maxsize=64)
def _returning_insert(table: sa.Table) -> sa.Insert:
    return sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)


@functools.lru_cache(maxsize=64)
def _combined_insert(shape: tuple[tuple[sa.Table, tuple[str, ...]], ...]) -> sa.Select[Any]:
    # Every column named with its own parameter: a nested INSERT leaves columns
    # it is not given to SQLAlchemy's defaults, which it does not fill there.
    ids = []
    for n, (table, keys) in enumerate(shape):
        insert = sa.insert(table).values(
            {key: sa.bindparam(f"r{n}_{key}", type_=table.c[key].type) for key in keys})
        written = insert.returning(table.c.id).cte(f"r{n}")
        ids.append(sa.select(written.c.id).scalar_subquery())
    return sa.select(*ids)


class AppendOnlyError(RuntimeError):
    """A consent record was about to be changed or deleted outside erasure/purge."""


class Row:
    """What every mapped row offers to the type checker (declarative gives both),
    and the named constraints every table of the package has."""

    __tablename__: ClassVar[str]
    #: Column sets that are unique, each named ``uq_<table>_<columns>``.
    unique_together: ClassVar[tuple[tuple[str, ...], ...]] = ()

    if TYPE_CHECKING:
        __table__: ClassVar[sa.Table]

        def __init__(self, **kwargs: Any) -> None: ...

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # Built per mapped class: a constraint object belongs to one table, and a
        # process may bind the models to several SQLAlchemy instances.
        table = cls.__tablename__
        return (
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            *(sa.UniqueConstraint(*columns, name=f"uq_{table}_{'_'.join(columns)}")
              for columns in cls.unique_together),
        )


class PolicyVersionRow(Row):
    """A published version of the policy and what its page said (snapshot)."""

    __tablename__ = "privacy_policy_version"
    unique_together = (("version",),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(sa.String(40))
    effective_date: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    # JSON of what the policy page showed when this version was published, so
    # an earlier version can be read as it was, not as today's config says.
    snapshot: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class ConsentRecordRow(Row):
    """Proof of consent (GDPR art. 7(1)); append-only: withdrawal is a new row."""

    __tablename__ = "privacy_consent_record"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(40), index=True)
    action: Mapped[str] = mapped_column(sa.String(16))  # given | withdrawn
    wording: Mapped[str] = mapped_column(sa.Text)
    wording_hash: Mapped[str] = mapped_column(sa.String(64))
    policy_version: Mapped[str] = mapped_column(sa.String(40))
    form: Mapped[str] = mapped_column(sa.String(40))
    age_confirmed: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)


class OutboxRow(Row):
    """Mail written in the same transaction as its record, sent after commit."""

    __tablename__ = "privacy_outbox"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # The address the mail concerns, so export/erasure/retention find it.
    subject_email: Mapped[str | None] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    reply_to: Mapped[str | None] = mapped_column(sa.String(ADDRESS_LENGTH))
    # The mail is rendered by the sender, not in the visitor's request: until then
    # the row holds the template, its language and its values (tagged JSON), and
    # from then on the rendered copy (after delivery with its links taken out).
    subject: Mapped[str | None] = mapped_column(sa.String(255))
    template: Mapped[str | None] = mapped_column(sa.String(80))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    context: Mapped[str | None] = mapped_column(sa.Text)
    body_text: Mapped[str | None] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    headers: Mapped[str | None] = mapped_column(sa.Text)  # JSON object
    # The working links in the mail (JSON list): kept until delivery, then taken
    # out of the stored copy, so no live token stays at rest.
    live_links: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ContactMessageRow(Row):
    """A question or quote request from the contact form, with its purpose."""

    __tablename__ = "privacy_contact_message"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    company: Mapped[str | None] = mapped_column(sa.String(200))
    purpose: Mapped[str] = mapped_column(sa.String(40))
    # The purpose's retention category, copied so the purge can select by it in SQL.
    retention_category: Mapped[str] = mapped_column(sa.String(40), default="default")
    message: Mapped[str] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    policy_version: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)


class SubscriberRow(Row):
    """A newsletter subscription: pending, confirmed or unsubscribed."""

    __tablename__ = "privacy_subscriber"
    unique_together = (("list_name", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(sa.String(40), default="newsletter")
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    policy_version: Mapped[str | None] = mapped_column(sa.String(40))
    confirm_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    confirm_sent_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    confirm_mails: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)


class DataRequestRow(Row):
    """A data subject's request under one of the GDPR rights, with its deadline."""

    __tablename__ = "privacy_data_request"
    unique_together = (("token_hash",),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # Cleared on erasure; email_hash (keyed) stays so the request can still be audited.
    email: Mapped[str | None] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    email_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    details: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="unverified", index=True)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    # How it reached the business: "web" (the portal), or "mail", "phone" or
    # "letter" when the maintainer filed it (the admin form, flask privacy request-add).
    channel: Mapped[str] = mapped_column(sa.String(10), default="web", server_default="web")
    # When it reached the business: the clock of a request the maintainer filed
    # runs from here; the portal's starts when the visitor confirms.
    received_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # The deadline each reminder to the maintainer was sent for (flask privacy
    # remind): one reminder of each kind per deadline, however often cron runs.
    soon_reminded_for: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    overdue_reminded_for: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    token_used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    verified_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    due_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, index=True)
    extended_until: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    # Portability to an organisation (art. 20(2)): the address the person named,
    # when, the keyed hash of the organisation's single-use link, and when that
    # link was used (a conditional UPDATE on NULL makes it single-use).
    recipient: Mapped[str | None] = mapped_column(sa.String(ADDRESS_LENGTH))
    recipient_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    recipient_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    recipient_downloaded_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ErasureLedgerRow(Row):
    """Keyed hashes of erased addresses, to erase again after a backup restore."""

    __tablename__ = "privacy_erasure_ledger"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    request_id: Mapped[int | None] = mapped_column()
    erased_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class HoldRow(Row):
    """A legal hold: the subject's records survive the purge and erasure until released."""

    __tablename__ = "privacy_hold"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class SubjectMarkRow(Row):
    """Restriction (art. 18) or objection (art. 21) recorded for a subject."""

    __tablename__ = "privacy_subject_mark"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # restriction | objection | objection-marketing
    grounds: Mapped[str | None] = mapped_column(sa.Text)
    request_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class VisitLogRow(Row):
    """Optional visit data: time, route, truncated IP and browser family only."""

    __tablename__ = "privacy_visit_log"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(sa.String(255))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    browser: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    # The host name of another site that linked here (never a path or query).
    referrer: Mapped[str | None] = mapped_column(sa.String(255))
    # A hash of truncated IP and browser under the day's salt: counts a day's
    # unique visitors, and links no day to the next (the salt is gone by then).
    visitor: Mapped[str | None] = mapped_column(sa.String(32))
    # The route of this site's page the visitor came from (never its path or
    # query); "" when that page had no route; NULL when the visitor came from
    # another site or none (an entry).
    came_from: Mapped[str | None] = mapped_column(sa.String(255))


class VisitDailyRow(Row):
    """One day's roll-up of the visit log: views and unique visitors per day
    (kind "total"), per route, referrer host and browser family. The analysis
    page reads these, so its time does not grow with the log."""

    __tablename__ = "privacy_visit_daily"
    unique_together = (("day", "kind", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.String(16))  # total | path | referrer | browser
    label: Mapped[str] = mapped_column(sa.String(255))
    views: Mapped[int] = mapped_column(default=0)
    visitors: Mapped[int] = mapped_column(default=0)


class VisitRouteDailyRow(Row):
    """One day's roll-up of how visitors move: views per entry route (kind
    "entry", ``source`` empty) and per same-site step from the route of one page
    to the route of the next (kind "flow"); today's finished hours carry an hour
    suffix, as in :class:`VisitDailyRow`. Routes only, never a path or query."""

    __tablename__ = "privacy_visit_route_daily"
    unique_together = (("day", "kind", "source", "route"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.String(16))  # entry | flow
    source: Mapped[str] = mapped_column(sa.String(255))
    route: Mapped[str] = mapped_column(sa.String(255))
    views: Mapped[int] = mapped_column(default=0)


class VisitAutomatedRow(Row):
    """Requests per day that were not page views (crawlers, monitors, scripts,
    headless browsers, HEAD and prefetch requests): one number, so the
    maintainer sees what the analysis left out. Each process counts in memory
    and adds its count here about once a second."""

    __tablename__ = "privacy_visit_automated"
    unique_together = (("day",),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(sa.Date)
    requests: Mapped[int] = mapped_column(default=0)


class VisitSaltRow(Row):
    """The day's random salt for the visitor hash; deleted after two days."""

    __tablename__ = "privacy_visit_salt"
    unique_together = (("day",),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(sa.Date)
    salt: Mapped[str] = mapped_column(sa.String(64))


class BreachFileRow(Row):
    """A report of misuse and the breach file it opens (GDPR arts. 33-34): the
    72-hour clock runs from ``created_at``; what the maintainer learns and does
    is written on the same row."""

    __tablename__ = "privacy_breach_file"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # Who reported it, if they gave an address (optional on the form).
    email: Mapped[str | None] = mapped_column(sa.String(ADDRESS_LENGTH), index=True)
    details: Mapped[str] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    facts: Mapped[str | None] = mapped_column(sa.Text)
    effects: Mapped[str | None] = mapped_column(sa.Text)
    measures: Mapped[str | None] = mapped_column(sa.Text)
    # The period whose data the breach touched: breach-scope counts it, breach-notify mails it.
    window_start: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    window_end: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    authority_notified_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    people_told_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # The maintainer's words to the people affected (art. 34), and when they went:
    # set by a conditional UPDATE, so the notice goes once.
    notice: Mapped[str | None] = mapped_column(sa.Text)
    notice_sent_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    notice_count: Mapped[int | None] = mapped_column()
    # When flask privacy remind mailed about it (once per file).
    reminded_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


@dataclass(frozen=True)
class Models:
    """The model classes bound to one host ``db``, typed by their mixins."""

    PolicyVersion: type[PolicyVersionRow]
    ConsentRecord: type[ConsentRecordRow]
    Outbox: type[OutboxRow]
    ContactMessage: type[ContactMessageRow]
    Subscriber: type[SubscriberRow]
    DataRequest: type[DataRequestRow]
    ErasureLedger: type[ErasureLedgerRow]
    Hold: type[HoldRow]
    SubjectMark: type[SubjectMarkRow]
    VisitLog: type[VisitLogRow]
    VisitDaily: type[VisitDailyRow]
    VisitSalt: type[VisitSaltRow]
    VisitRouteDaily: type[VisitRouteDailyRow]
    VisitAutomated: type[VisitAutomatedRow]
    BreachFile: type[BreachFileRow]

    def all(self) -> tuple[type[Row], ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_cache: weakref.WeakKeyDictionary[SQLAlchemy, Models] = weakref.WeakKeyDictionary()


def get_models(db: SQLAlchemy) -> Models:
    """Return the models for ``db``, defining them on first use."""
    models = _cache.get(db)
    if models is None:
        models = _cache[db] = _define(db)
    return models


#: Each model's name and the mixin that declares its columns.
MIXINS: dict[str, type[Row]] = {
    "PolicyVersion": PolicyVersionRow,
    "ConsentRecord": ConsentRecordRow,
    "Outbox": OutboxRow,
    "ContactMessage": ContactMessageRow,
    "Subscriber": SubscriberRow,
    "DataRequest": DataRequestRow,
    "ErasureLedger": ErasureLedgerRow,
    "Hold": HoldRow,
    "SubjectMark": SubjectMarkRow,
    "VisitLog": VisitLogRow,
    "VisitDaily": VisitDailyRow,
    "VisitSalt": VisitSaltRow,
    "VisitRouteDaily": VisitRouteDailyRow,
    "VisitAutomated": VisitAutomatedRow,
    "BreachFile": BreachFileRow,
}


def _define(db: SQLAlchemy) -> Models:
    # The host's declarative base is only known at run time: a dynamic base class.
    base: Any = db.Model
    classes = {
        name: type(name, (mixin, base), {"__module__": __name__, "__qualname__": name})
        for name, mixin in MIXINS.items()
    }

    @event.listens_for(classes["ConsentRecord"], "before_update")
    def _refuse_update(mapper: Any, connection: Any, target: Any) -> None:
        raise AppendOnlyError("consent records are append-only; record a withdrawal instead")

    return Models(**classes)
