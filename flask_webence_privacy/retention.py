"""The purge engine: retention that really deletes.

Every source in the registry brings its retention rules (a category's period
from the row's timestamp, or the feature's own rules); tables that hold no
subject's data of their own bring theirs as extra rules. The engine runs each
rule in batches of consecutive primary keys: it finds the key that closes the
next batch, deletes (or anonymises) the expired rows up to it with one
set-based statement, and commits. Each batch is its own transaction, so a
failure loses at most the batch in hand and a rerun finishes the job. Two
hosts running the purge from cron at the same moment are safe: each counts
only the rows its own DELETE removed.

Rows of a subject that :mod:`~flask_webence_privacy.keeping` keeps (a hold, a
restriction) are left where they are.

Rows that belong to other rows (a source registered with ``owner``) expire by
their own timestamp and category like any other, and they also go with the row
they belong to: when the purge removes a row (by delete or a callable), the rows
that belong to it are removed first, in the same batch, so every foreign key
holds. They are reported on a line of their own ("<category>, with <owner>").
An anonymised owner row stays, and so do the rows that belong to it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.sql.elements import ColumnElement

from . import keeping
from .config import ConfigurationError
from .models import utcnow
from .registry import (
    Rule,
    RuleContext,
    Source,
    children_first,
    owned_by,
    remove,
    resolve_owners,
    rows_owned,
)
from .signals import records_purged
from .state import State

log = logging.getLogger(__name__)


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


def moment(now: dt.datetime | dt.date | None) -> dt.datetime:
    """``now`` as naive UTC; a date is its midnight."""
    if now is None:
        return utcnow()
    if isinstance(now, dt.datetime):
        if now.tzinfo is not None:
            now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return now
    return dt.datetime.combine(now, dt.time.min)


def rules(state: State, now: dt.datetime) -> list[Rule]:
    """Every set of rows that may be past its period at ``now``, in purge order:
    rows that belong to other rows first."""
    context = RuleContext(state.settings, state.models, now)
    result: list[Rule] = []
    for source in children_first(resolve_owners(state.sources, state.settings.retention)):
        result += source.retention_rules(context)
    for extra in state.extra_rules:
        result += extra(context)
    return result


def _where(state: State, rule: Rule, anyone_kept: bool) -> ColumnElement[bool]:
    """The rule's rows, less the kept subjects'. The per-row check is left out
    when nobody is kept at the start of the run (it is most of a batch's cost);
    a hold placed while a purge runs is honoured from the next run on."""
    if rule.subject is None or not anyone_kept:
        return rule.where
    return sa.and_(rule.where, sa.or_(rule.subject.is_(None),
                                      ~keeping.kept(state.models, rule.subject, keeping.PURGE)))


def _check_row_categories(state: State) -> None:
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


#: Rows per purge batch where ``PRIVACY_PURGE_BATCH_SIZE`` is not set ...
BATCH_SIZE = 100_000
#: ... and on SQLite. There every batch rewrites the pages of each index it
#: touches, and an index in another order than the rows (an address's) it touches
#: all over: one million rows, half expired, cost 1.5 times one DELETE in batches
#: of 100,000 and 1.2 times in batches of 250,000 (``make bench``). SQLite has one
#: writer whatever the batch; a form posted meanwhile waits for one batch.
SQLITE_BATCH_SIZE = 250_000


def batch_size(state: State) -> int:
    """Rows per purge batch (each its own transaction): the setting, else the
    database's default."""
    if state.settings.purge_batch_size is not None:
        return state.settings.purge_batch_size
    return SQLITE_BATCH_SIZE if state.db.engine.dialect.name == "sqlite" else BATCH_SIZE


def _owned(state: State, rule: Rule,
           where: ColumnElement[bool]) -> list[tuple[Source, ColumnElement[bool]]]:
    """The rows that go with the rule's rows matching ``where``: per source whose
    rows belong to them, deepest first. None where the rule's rows stay
    (anonymised)."""
    if rule.source is None or rule.erase == "anonymize":
        return []
    return [(source, rows_owned(source, rule.source, where))
            for source in owned_by(rule.source, state.sources)]


def _remove(state: State, rule: Rule, batch: ColumnElement[bool], owned: Counter[str]) -> int:
    """Remove the rows of one batch, inside the caller's transaction; how many.
    The rows that belong to them go first (counted in ``owned`` by source)."""
    session = state.db.session
    if rule.source is None:
        if rule.erase != "delete":
            raise ValueError(f"rule {rule.name}/{rule.category} removes rows without a source")
        done = session.execute(
            sa.delete(rule.table).where(batch).execution_options(synchronize_session=False))
        return int(getattr(done, "rowcount", 0) or 0)
    for source, rows in _owned(state, rule, batch):
        owned[source.name] += remove(session, source, rows)
    return remove(session, rule.source, batch)


def _upper_bound(state: State, key: ColumnElement[Any], where: ColumnElement[bool], size: int,
                 last: Any) -> Any:
    """The key value that closes the next batch: the ``size``-th expired one after
    ``last``, or the last one when fewer are left; None when done."""
    session = state.db.session
    after = where if last is None else sa.and_(where, key > last)
    upper = session.scalar(sa.select(key).where(after).order_by(key).offset(size - 1).limit(1))
    if upper is None:
        upper = session.scalar(sa.select(sa.func.max(key)).where(after))
    return upper


def _purge_rule(state: State, rule: Rule, dry_run: bool, size: int, anyone_kept: bool,
                owned: Counter[str]) -> int:
    """Remove a rule's rows in batches of consecutive keys, each its own transaction.

    A batch is a key range (``low < key <= high``) and the rule's condition: one
    plain DELETE (or UPDATE) on the primary key's index, no key list sent back
    and forth, no extra row locks, on every database. With an integer key the
    ranges are windows that widen where expired rows are sparse and narrow where
    they are dense, so a batch holds about ``size`` rows and finding it costs
    nothing; other keys take the ``size``-th key as the bound. Two purges at
    once compute the same ranges; the second one's DELETE waits for the first's
    rows and then finds them gone, so each row is counted once.
    """
    session = state.db.session
    where = _where(state, rule, anyone_kept)
    if dry_run:
        count = session.scalar(sa.select(sa.func.count()).select_from(rule.table).where(where))
        for source, rows in _owned(state, rule, where):
            owned[source.name] += int(session.scalar(
                sa.select(sa.func.count()).select_from(source.table).where(rows)) or 0)
        session.rollback()
        return int(count or 0)
    if rule.order is not None:
        return _purge_by_bound(state, rule, where, size, rule.order, owned)
    if not isinstance(rule.pk.type, sa.Integer):
        return _purge_by_bound(state, rule, where, size, rule.pk, owned)
    first, last = session.execute(
        sa.select(sa.func.min(rule.pk), sa.func.max(rule.pk)).where(where)).one()
    session.rollback()
    if first is None:
        return 0
    total, low, step = 0, int(first) - 1, size
    while low < last:
        high = min(low + step, int(last))
        try:
            removed = _remove(state, rule, sa.and_(where, rule.pk > low, rule.pk <= high), owned)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        total += removed
        low = high
        # The next window aims at ``size`` rows by this one's density (at most
        # twice as wide at once): each batch rewrites the pages of every index it
        # touches, and an index in another order (an address's) is touched all
        # over by every batch, so half-full batches cost twice the writes.
        if removed == 0:
            step *= 2
        else:
            step = max(1, min(step * 2, step * size // removed))
    return total


def _purge_by_bound(state: State, rule: Rule, where: ColumnElement[bool], size: int,
                    key: ColumnElement[Any], owned: Counter[str]) -> int:
    """Batches closed by the ``size``-th value of ``key``: the rule's indexed
    timestamp (only expired rows are ever read, as a plain DELETE reads them) or
    a key that is not an integer. Rows that share the closing value go together."""
    session = state.db.session
    total, last = 0, None
    while True:
        try:
            upper = _upper_bound(state, key, where, size, last)
            if upper is None:
                session.rollback()
                return total
            batch = sa.and_(where, key <= upper)
            if last is not None:
                batch = sa.and_(batch, key > last)
            removed = _remove(state, rule, batch, owned)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        total += removed
        last = upper


def purge(state: State, now: dt.datetime | dt.date | None = None,
          dry_run: bool = False,
          progress: Callable[[Rule], None] | None = None) -> PurgeReport:
    """Remove every row past its period at ``now``; with ``dry_run`` only count them.

    Safe to rerun (what is gone is not counted again) and to run on several hosts
    at once. A failing batch is rolled back; the batches before it stay done.
    ``progress`` is told of each rule when it is done (the CLI's progress bar).
    """
    at = moment(now)
    report = PurgeReport(now=at, dry_run=dry_run)
    _check_row_categories(state)
    size = batch_size(state)
    sender = current_app._get_current_object()  # type: ignore[attr-defined]
    anyone = keeping.anyone_kept(state.db, state.models, keeping.PURGE)
    state.db.session.rollback()
    for rule in rules(state, at):
        owned: Counter[str] = Counter()
        count = _purge_rule(state, rule, dry_run, size, anyone, owned)
        if progress is not None:
            progress(rule)
        rows = [PurgeRow(rule.name, rule.category, rule.cutoff, count)]
        rows += [PurgeRow(name, f"{rule.category}, with {rule.name}", rule.cutoff, n)
                 for name, n in owned.items()]
        report.rows += rows
        for row in rows:
            if row.count and not dry_run:
                records_purged.send(sender, model=row.model, category=row.category,
                                    count=row.count)
                log.info("purge: %s/%s: %d row(s) removed", row.model, row.category, row.count)
    return report
