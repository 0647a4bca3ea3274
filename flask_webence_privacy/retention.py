"""Retention that really deletes: the purge, statutory holds and the visit log.

The purge reads the same registry as export and erasure. For each source it
selects a batch of primary keys of expired rows (ordered, ``LIMIT``), then
deletes (or anonymises) exactly those rows with one set-based statement, and
commits: each batch is its own transaction, so a failure loses at most the
batch in hand and a rerun finishes the job. On PostgreSQL the batch selection
uses ``FOR UPDATE SKIP LOCKED``, so two hosts running the purge from cron at the
same moment work on different rows, never wait on each other, and count only
the rows their own DELETE removed.

Periods of the package's own data (stated on the privacy page and in the
record of processing):

- contact messages: the retention category of their purpose;
- newsletter subscriptions: pending ones after the confirmation window,
  unsubscribed ones one ``PRIVACY_PROOF_RETENTION`` period after unsubscribing,
  confirmed ones are kept while the subscription runs;
- consent records: proof of a consent is needed while it is in force and for
  as long as someone may ask whether it was valid; a given consent and its
  withdrawal are removed one ``PRIVACY_PROOF_RETENTION`` period (default: the
  1-year category, which is what the policy promises for "everything else")
  after the withdrawal;
- data requests: one ``PRIVACY_PROOF_RETENTION`` period after completion (proof
  the request was answered in time); unverified requests after
  ``PRIVACY_OUTBOX_DAYS``; open requests are kept;
- outbox: sent mail and mail given up on after its retries, ``PRIVACY_OUTBOX_DAYS``
  (30) after sending or queueing; queued mail is kept until delivered;
- visit log: the default (1-year) category.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, request

from .config import ConfigurationError, Settings
from .i18n import gettext as _
from .models import utcnow
from .signals import records_purged

log = logging.getLogger(__name__)

#: What an anonymised text column holds instead of personal data.
PLACEHOLDER = "[erased]"
CONFIG_DEFAULTS = {"PURGE_BATCH_SIZE": 1000, "OUTBOX_DAYS": 30, "PROOF_RETENTION": "default"}


# -- configuration ---------------------------------------------------------------


def _config(settings: Settings, key: str) -> Any:
    return settings.raw.get("PRIVACY_" + key, CONFIG_DEFAULTS[key])


def batch_size(settings: Settings) -> int:
    return int(_config(settings, "PURGE_BATCH_SIZE"))


def outbox_days(settings: Settings) -> int:
    return int(_config(settings, "OUTBOX_DAYS"))


def proof_category(settings: Settings) -> Any:
    return settings.category(_config(settings, "PROOF_RETENTION"))


def check_config(settings: Settings) -> None:
    """The retention keys of this module, checked at start-up and named when wrong."""
    for key, minimum in (("PURGE_BATCH_SIZE", 1), ("OUTBOX_DAYS", 1)):
        value = _config(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(f"PRIVACY_{key} must be an integer >= {minimum}, got {value!r}")
    name = _config(settings, "PROOF_RETENTION")
    if name not in settings.retention:
        raise ConfigurationError(
            f"PRIVACY_PROOF_RETENTION names unknown retention category {name!r}; "
            f"PRIVACY_RETENTION has {', '.join(sorted(settings.retention))}"
        )


def init_app(app: Flask, state: Any) -> None:
    """Check the retention settings and, when asked for, start the visit log."""
    check_config(state.settings)
    if state.settings.visit_log:
        app.after_request(_log_visit)


# -- the report ------------------------------------------------------------------


@dataclass
class PurgeRow:
    model: str
    category: str
    cutoff: dt.datetime
    count: int = 0


@dataclass
class PurgeReport:
    """Per model and category: how many rows were (or, dry run, would be) removed."""

    now: dt.datetime
    dry_run: bool = False
    rows: list[PurgeRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)

    def count(self, model: str, category: str | None = None) -> int:
        return sum(r.count for r in self.rows
                   if r.model == model and (category is None or r.category == category))

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "total": self.total,
            "rows": [{"model": r.model, "category": r.category,
                      "cutoff": r.cutoff.isoformat(), "count": r.count} for r in self.rows],
        }

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        head = ("model", "category", "cut-off (UTC)", verb)
        body = [(r.model, r.category, r.cutoff.strftime("%Y-%m-%d %H:%M"), str(r.count))
                for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=False)).rstrip()
                 for line in (head, *body)]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"{'Dry run: ' if self.dry_run else ''}{self.total} row(s) {verb} "
                     f"at {self.now.strftime('%Y-%m-%d %H:%M')} UTC.")
        return "\n".join(lines)


# -- what expires ----------------------------------------------------------------


@dataclass
class Rule:
    """A set of expired rows of one table, and how to remove them."""

    model: Any
    name: str
    category: str
    cutoff: dt.datetime
    where: Any
    email: Any = None  # the column checked against holds; None: no subject
    erase: str | Callable[..., int] = "delete"
    source: Any = None

    @property
    def pk(self) -> Any:
        (column,) = self.model.__table__.primary_key.columns
        return column


def _now(now: dt.datetime | dt.date | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if isinstance(now, dt.datetime):
        if now.tzinfo is not None:
            now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return now
    return dt.datetime.combine(now, dt.time.min)


def _anonymous_filter(source: Any) -> Any:
    """Rows already anonymised are not expired again (the purge is idempotent)."""
    column = source.column(source.email)
    return sa.and_(column.is_not(None), column != PLACEHOLDER)


def rules(state: Any, now: dt.datetime) -> list[Rule]:
    """Every set of rows that may be past its period at ``now``."""
    settings, models = state.settings, state.models
    proof = proof_category(settings)
    proof_cutoff = proof.cutoff(now)
    short_cutoff = now - dt.timedelta(days=outbox_days(settings))
    result: list[Rule] = []
    for source in state.sources:
        model = source.model
        email = source.column(source.email)
        stamp = source.column(source.timestamp)
        if source.builtin and model is models.Subscriber:
            # Pending subscriptions are the newsletter module's (confirmation window);
            # confirmed ones are kept while the subscription runs.
            result.append(Rule(model, source.name, "unsubscribed", proof_cutoff,
                               sa.and_(model.status == "unsubscribed",
                                       model.unsubscribed_at < proof_cutoff), email))
        elif source.builtin and model is models.ConsentRecord:
            # A consent and its withdrawal go a proof period after the withdrawal;
            # a consent given again later is untouched. The consents go first: were
            # the run to stop in between, a withdrawal without its consent is
            # harmless, a consent without its withdrawal would look in force.
            later = sa.orm.aliased(model)
            withdrawn = sa.exists().where(
                later.email == model.email, later.purpose == model.purpose,
                later.action == "withdrawn", later.created_at < proof_cutoff,
                later.created_at >= model.created_at)
            result.append(Rule(model, source.name, "withdrawn consent", proof_cutoff,
                               sa.and_(model.action != "withdrawn", withdrawn), email))
            result.append(Rule(model, source.name, "withdrawal", proof_cutoff,
                               sa.and_(model.action == "withdrawn",
                                       model.created_at < proof_cutoff), email))
        elif source.builtin and model is models.DataRequest:
            result.append(Rule(model, source.name, "completed", proof_cutoff,
                               sa.and_(model.completed_at.is_not(None),
                                       model.completed_at < proof_cutoff), email))
            result.append(Rule(model, source.name, "unverified", short_cutoff,
                               sa.and_(model.status == "unverified", model.verified_at.is_(None),
                                       model.completed_at.is_(None),
                                       model.created_at < short_cutoff), email))
        elif source.builtin and model is models.Outbox:
            result.append(Rule(model, source.name, "sent", short_cutoff,
                               sa.and_(model.status == "sent", model.sent_at < short_cutoff), email))
            result.append(Rule(model, source.name, "failed", short_cutoff,
                               sa.and_(model.status == "failed",
                                       model.created_at < short_cutoff), email))
        elif source.category_column is not None:
            column = source.column(source.category_column)
            for name, category in settings.retention.items():
                cutoff = category.cutoff(now)
                where = sa.and_(column == name, stamp < cutoff)
                if source.erase == "anonymize":
                    where = sa.and_(where, _anonymous_filter(source))
                result.append(Rule(model, source.name, name, cutoff, where, email,
                                   source.erase, source))
        else:
            category = settings.category(source.category)
            cutoff = category.cutoff(now)
            where = stamp < cutoff
            if source.erase == "anonymize":
                where = sa.and_(where, _anonymous_filter(source))
            result.append(Rule(model, source.name, category.name, cutoff, where, email,
                               source.erase, source))
    # A released hold and a lifted restriction are kept one proof period, as the
    # record of why data outlived its period, then go like everything else.
    Hold, Mark = models.Hold, models.SubjectMark
    result.append(Rule(Hold, "Hold", "released", proof_cutoff,
                       sa.and_(Hold.released_at.is_not(None), Hold.released_at < proof_cutoff)))
    result.append(Rule(Mark, "SubjectMark", "lifted", proof_cutoff,
                       sa.and_(Mark.lifted_at.is_not(None), Mark.lifted_at < proof_cutoff)))
    visit = settings.category("default")
    result.append(Rule(models.VisitLog, "VisitLog", visit.name, visit.cutoff(now),
                       models.VisitLog.created_at < visit.cutoff(now)))
    return result


def _kept(state: Any, email: Any) -> Any:
    """Rows of a subject under a legal hold or a restriction of processing survive."""
    models = state.models
    return sa.or_(
        sa.exists().where(models.Hold.email == email, models.Hold.released_at.is_(None)),
        sa.exists().where(models.SubjectMark.email == email,
                          models.SubjectMark.kind == "restriction",
                          models.SubjectMark.lifted_at.is_(None)),
        sa.exists().where(models.DataRequest.email == email,
                          models.DataRequest.kind == "restriction",
                          models.DataRequest.status.in_(("unverified", "verified")),
                          models.DataRequest.completed_at.is_(None)),
    )


def _anyone_kept(state: Any) -> bool:
    """Whether any hold or restriction is in force at all. Usually none is, and
    then the per-row checks are left out of the statements (they are most of a
    batch's cost). Asked again for every rule, so a hold placed while a purge
    runs is honoured from the next model on."""
    models = state.models
    queries = (
        sa.select(models.Hold.id).where(models.Hold.released_at.is_(None)),
        sa.select(models.SubjectMark.id).where(models.SubjectMark.kind == "restriction",
                                               models.SubjectMark.lifted_at.is_(None)),
        sa.select(models.DataRequest.id).where(
            models.DataRequest.kind == "restriction",
            models.DataRequest.status.in_(("unverified", "verified")),
            models.DataRequest.completed_at.is_(None)),
    )
    found = any(state.db.session.execute(q.limit(1)).first() is not None for q in queries)
    state.db.session.rollback()
    return found


def _where(state: Any, rule: Rule) -> Any:
    if rule.email is None or not _anyone_kept(state):
        return rule.where
    return sa.and_(rule.where, sa.or_(rule.email.is_(None), ~_kept(state, rule.email)))


def _check_row_categories(state: Any) -> None:
    """A row naming a category the configuration no longer has: stop before deleting
    anything, rather than guess its period."""
    known = list(state.settings.retention)
    for source in state.sources:
        if source.category_column is None:
            continue
        column = source.column(source.category_column)
        unknown = state.db.session.scalars(
            sa.select(column).where(column.not_in(known)).distinct().limit(5)).all()
        state.db.session.rollback()
        if unknown:
            raise ConfigurationError(
                f"{source.name}.{source.category_column} holds unknown retention "
                f"category {', '.join(map(repr, sorted(map(str, unknown))))}; "
                f"PRIVACY_RETENTION has {', '.join(sorted(known))}. Nothing was purged."
            )


# -- the purge -------------------------------------------------------------------


def _personal_values(source: Any) -> dict[str, Any]:
    """Column values that anonymise a row: NULL where allowed, else a placeholder."""
    table = source.table
    names = source.fields if source.fields is not None else tuple(table.c.keys())
    keep = {source.timestamp, source.category_column, *(c.name for c in table.primary_key.columns)}
    values: dict[str, Any] = {}
    for name in names:
        column = table.c[name]
        if name in keep or column.foreign_keys:
            continue
        if column.nullable:
            values[name] = None
        elif isinstance(column.type, sa.String):
            values[name] = PLACEHOLDER
    values[source.email] = None if table.c[source.email].nullable else PLACEHOLDER
    return values


def _remove(db: Any, rule: Rule, ids: list[Any]) -> int:
    """Remove one batch, inside the caller's transaction. Returns rows removed."""
    if callable(rule.erase):
        result = rule.erase(sa.select(rule.model).where(rule.pk.in_(ids)))
        db.session.flush()
        return int(result if isinstance(result, int) else len(ids))
    if rule.erase == "anonymize":
        statement = (sa.update(rule.model.__table__).where(rule.pk.in_(ids))
                     .values(**_personal_values(rule.source)))
    else:
        statement = sa.delete(rule.model.__table__).where(rule.pk.in_(ids))
    # rowcount, not len(ids): a row another host removed in between is not ours to count.
    return db.session.execute(statement).rowcount


def _batch_ids(state: Any, rule: Rule, where: Any, size: int, last: Any) -> Any:
    """The next batch's primary keys: ordered, limited, after the last batch."""
    query = sa.select(rule.pk).where(where).order_by(rule.pk).limit(size)
    if last is not None:
        # Keyset paging: rows kept (held, not yet expired) are never scanned twice.
        query = query.where(rule.pk > last)
    # Ignored on SQLite (one writer at a time anyway); on PostgreSQL concurrent
    # purges take disjoint batches and never wait on each other.
    return query.with_for_update(skip_locked=True)


def _one_statement(db: Any, rule: Rule, ids: Any) -> Any:
    """DELETE (or anonymising UPDATE) of the batch subquery, RETURNING the keys:
    one round trip per batch and no key list sent back to the server."""
    if callable(rule.erase):
        return None
    dialect = db.engine.dialect
    table = rule.model.__table__
    if rule.erase == "anonymize":
        if not dialect.update_returning:
            return None
        statement = sa.update(table).values(**_personal_values(rule.source))
    else:
        if not dialect.delete_returning:
            return None
        statement = sa.delete(table)
    if dialect.name == "postgresql":
        # = ANY(ARRAY(subquery)): the planner looks the batch up by key instead of
        # hash-joining it against a scan of the whole table.
        batch = rule.pk == sa.any_(sa.func.array(ids.scalar_subquery()))
    else:
        batch = rule.pk.in_(ids)
    return statement.where(batch).returning(rule.pk)


def _purge_rule(state: Any, rule: Rule, dry_run: bool, size: int) -> int:
    db = state.db
    where = _where(state, rule)
    if dry_run:
        count = db.session.scalar(sa.select(sa.func.count()).select_from(rule.model).where(where))
        db.session.rollback()
        return int(count or 0)
    total, last = 0, None
    while True:
        query = _batch_ids(state, rule, where, size, last)
        try:
            statement = _one_statement(db, rule, query)
            if statement is not None:
                # Counted from what this statement removed: two hosts never count a row twice.
                ids = list(db.session.scalars(statement))
                removed = len(ids)
            else:
                ids = list(db.session.scalars(query))
                removed = _remove(db, rule, ids) if ids else 0
            if not ids:
                db.session.rollback()
                return total
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        total += removed
        last = max(ids)


def _newsletter() -> Any:
    try:
        from . import newsletter
    except ImportError:
        return None
    return newsletter


def pending_window(state: Any) -> dt.timedelta:
    """How long an unconfirmed sign-up is kept: the newsletter module's setting,
    or (without it) the life of the confirmation link."""
    newsletter = _newsletter()
    try:
        return dt.timedelta(days=newsletter.settings(state).pending_days)  # type: ignore[union-attr]
    except AttributeError:
        return dt.timedelta(seconds=state.settings.token_max_age)


def _purge_pending(state: Any, now: dt.datetime, dry_run: bool) -> tuple[int, dt.datetime] | None:
    """Unconfirmed newsletter subscriptions: the newsletter module owns their window."""
    window = pending_window(state)
    purge_pending = getattr(_newsletter(), "purge_pending", None)
    if purge_pending is not None:
        return int(purge_pending(state, now, dry_run) or 0), now - window
    # Without the newsletter module: the confirmation link is dead after the token
    # age, so the pending row has no use left.
    Subscriber = state.models.Subscriber
    rule = Rule(Subscriber, "Subscriber", "pending", now - window,
                sa.and_(Subscriber.status == "pending", Subscriber.created_at < now - window),
                Subscriber.email)
    return _purge_rule(state, rule, dry_run, batch_size(state.settings)), rule.cutoff


def purge(state: Any, now: dt.datetime | dt.date | None = None, dry_run: bool = False) -> PurgeReport:
    """Remove every row past its period at ``now``; with ``dry_run`` only count them.

    Safe to rerun (what is gone is not counted again) and to run on several hosts
    at once. A failing batch is rolled back; the batches before it stay done.
    """
    moment = _now(now)
    report = PurgeReport(now=moment, dry_run=dry_run)
    _check_row_categories(state)
    size = batch_size(state.settings)
    sender = current_app._get_current_object()  # type: ignore[attr-defined]

    def note(model: str, category: str, cutoff: dt.datetime, count: int) -> None:
        report.rows.append(PurgeRow(model, category, cutoff, count))
        if count and not dry_run:
            records_purged.send(sender, model=model, category=category, count=count)
            log.info("purge: %s/%s: %d row(s) removed", model, category, count)

    pending = _purge_pending(state, moment, dry_run)
    if pending is not None:
        note("Subscriber", "pending", pending[1], pending[0])
    for rule in rules(state, moment):
        note(rule.name, rule.category, rule.cutoff, _purge_rule(state, rule, dry_run, size))
    return report


# -- holds -------------------------------------------------------------------------


def _normalize(email: str) -> str:
    from .forms import normalize_email

    return normalize_email(email)


def hold(state: Any, email: str, reason: str) -> Any:
    """Keep every record of ``email`` through the purge until released."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a hold needs a reason")
    row = state.models.Hold(email=_normalize(email), reason=reason)
    state.db.session.add(row)
    state.db.session.commit()
    return row


def release(state: Any, email: str) -> int:
    """End the active holds of ``email``; their records expire as usual again."""
    Hold = state.models.Hold
    result = state.db.session.execute(
        sa.update(Hold).where(Hold.email == _normalize(email), Hold.released_at.is_(None))
        .values(released_at=utcnow()))
    state.db.session.commit()
    return result.rowcount


# -- the visit log ----------------------------------------------------------------

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


def record_visit(engine: Any, table: Any, *, path: str, ip: str | None,
                 user_agent: str | None, when: dt.datetime | None = None) -> None:
    """Store one visit in its own short transaction, apart from the host's session."""
    with engine.begin() as connection:
        connection.execute(sa.insert(table).values(
            path=path[:255], ip=ip, browser=browser_family(user_agent),
            created_at=when or utcnow()))


def _log_visit(response: Any) -> Any:
    if request.method != "GET" or response.status_code >= 400:
        return response
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return response
    from .extension import get_state
    from .net import stored_ip

    state = get_state()
    engine, table = state.db.engine, state.models.VisitLog.__table__
    # request.path carries no query string: search terms and tokens stay out.
    visit = {"path": request.path, "ip": stored_ip(),
             "user_agent": request.headers.get("User-Agent")}

    def write() -> None:
        # After the response is closed the request's own session is gone, so the
        # insert never waits on (or commits) the host's transaction.
        try:
            record_visit(engine, table, **visit)
        except Exception as exc:  # noqa: BLE001 - a visit log must never break the page
            # The type only: a database error's text carries the path and IP.
            log.warning("visit log: could not record a visit (%s)", type(exc).__name__)

    response.call_on_close(write)
    return response


# -- the periods, as the privacy page and the record state them ---------------------


def builtin_periods(settings: Settings) -> dict[str, str]:
    """How long each of the package's own records is kept, in the active locale."""
    from .policy import format_days, format_period

    proof = format_period(proof_category(settings))
    short = format_days(outbox_days(settings))
    # pending_window reads only state.settings: a stand-in works outside a request.
    pending = format_days(max(1, pending_window(SimpleNamespace(settings=settings)).days))
    return {
        "Subscriber": _("while you are subscribed; %(proof)s after you unsubscribe; "
                        "unconfirmed sign-ups after %(pending)s",
                        proof=proof, pending=pending),
        "ConsentRecord": _("while the consent is in force, and %(proof)s after you withdraw it",
                           proof=proof),
        "DataRequest": _("%(proof)s after the request is completed; unconfirmed requests "
                         "after %(short)s", proof=proof, short=short),
        "Outbox": _("%(short)s after sending, or after delivery failed", short=short),
    }
