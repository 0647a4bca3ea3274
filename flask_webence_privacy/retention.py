"""The purge engine: retention that really deletes.

Every source in the registry brings its retention rules (a category's period
from the row's timestamp, or the feature's own rules); tables that hold no
subject's data of their own bring theirs as extra rules. The engine runs each
rule in batches: it selects a batch of primary keys of expired rows (ordered,
``LIMIT``), deletes (or anonymises) exactly those rows with one set-based
statement, and commits. Each batch is its own transaction, so a failure loses
at most the batch in hand and a rerun finishes the job. On PostgreSQL the batch
selection uses ``FOR UPDATE SKIP LOCKED``, so two hosts running the purge from
cron at the same moment work on different rows, never wait on each other, and
count only the rows their own DELETE removed.

Rows of a subject that :mod:`~flask_webence_privacy.keeping` keeps (a hold, a
restriction) are left where they are.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from . import keeping
from .config import ConfigurationError
from .models import utcnow
from .registry import Rule, RuleContext, anonymized_values
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
    """Every set of rows that may be past its period at ``now``, in purge order."""
    context = RuleContext(state.settings, state.models, now)
    result: list[Rule] = []
    for source in state.sources:
        result += source.retention_rules(context)
    for extra in state.extra_rules:
        result += extra(context)
    return result


def _where(state: State, rule: Rule) -> ColumnElement[bool]:
    """The rule's rows, less the kept subjects'. Asked again for every rule, so a
    hold placed while a purge runs is honoured from the next rule on; the per-row
    check is left out when nobody is kept (it is most of a batch's cost)."""
    if rule.subject is None:
        return rule.where
    anyone = keeping.anyone_kept(state.db, state.models, keeping.PURGE)
    state.db.session.rollback()
    if not anyone:
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


def _anonymize_values(rule: Rule) -> dict[str, object]:
    if rule.source is None:
        raise ValueError(f"rule {rule.name}/{rule.category} anonymises without a source")
    return anonymized_values(rule.source)


def _remove(state: State, rule: Rule, ids: list[Any]) -> int:
    """Remove one batch, inside the caller's transaction. Returns rows removed."""
    session = state.db.session
    if callable(rule.erase):
        model = rule.source.model if rule.source is not None else rule.table
        result = rule.erase(sa.select(model).where(rule.pk.in_(ids)))
        session.flush()
        return int(result if isinstance(result, int) else len(ids))
    statement: Any
    if rule.erase == "anonymize":
        statement = sa.update(rule.table).where(rule.pk.in_(ids)).values(_anonymize_values(rule))
    else:
        statement = sa.delete(rule.table).where(rule.pk.in_(ids))
    # rowcount, not len(ids): a row another host removed in between is not ours to count.
    return int(getattr(session.execute(statement), "rowcount", 0) or 0)


def _batch_ids(rule: Rule, where: ColumnElement[bool], size: int, last: Any) -> Select[Any]:
    """The next batch's primary keys: ordered, limited, after the last batch."""
    query = sa.select(rule.pk).where(where).order_by(rule.pk).limit(size)
    if last is not None:
        # Keyset paging: rows kept (held, not yet expired) are never scanned twice.
        query = query.where(rule.pk > last)
    # Ignored on SQLite (one writer at a time anyway); on PostgreSQL concurrent
    # purges take disjoint batches and never wait on each other.
    return query.with_for_update(skip_locked=True)


def _one_statement(state: State, rule: Rule, ids: Select[Any]) -> Any:
    """DELETE (or anonymising UPDATE) of the batch subquery, RETURNING the keys:
    one round trip per batch and no key list sent back to the server."""
    if callable(rule.erase):
        return None
    dialect = state.db.engine.dialect
    statement: Any
    if rule.erase == "anonymize":
        if not dialect.update_returning:
            return None
        statement = sa.update(rule.table).values(_anonymize_values(rule))
    else:
        if not dialect.delete_returning:
            return None
        statement = sa.delete(rule.table)
    if dialect.name == "postgresql":
        # = ANY(ARRAY(subquery)): the planner looks the batch up by key instead of
        # hash-joining it against a scan of the whole table.
        batch = rule.pk == sa.any_(sa.func.array(ids.scalar_subquery()))
    else:
        batch = rule.pk.in_(ids)
    return statement.where(batch).returning(rule.pk)


def _purge_rule(state: State, rule: Rule, dry_run: bool, size: int) -> int:
    session = state.db.session
    where = _where(state, rule)
    if dry_run:
        count = session.scalar(sa.select(sa.func.count()).select_from(rule.table).where(where))
        session.rollback()
        return int(count or 0)
    total, last = 0, None
    while True:
        query = _batch_ids(rule, where, size, last)
        try:
            statement = _one_statement(state, rule, query)
            if statement is not None:
                # Counted from what this statement removed: two hosts never count a row twice.
                ids = list(session.scalars(statement))
                removed = len(ids)
            else:
                ids = list(session.scalars(query))
                removed = _remove(state, rule, ids) if ids else 0
            if not ids:
                session.rollback()
                return total
            session.commit()
        except BaseException:
            session.rollback()
            raise
        total += removed
        last = max(ids)


def purge(state: State, now: dt.datetime | dt.date | None = None,
          dry_run: bool = False) -> PurgeReport:
    """Remove every row past its period at ``now``; with ``dry_run`` only count them.

    Safe to rerun (what is gone is not counted again) and to run on several hosts
    at once. A failing batch is rolled back; the batches before it stay done.
    """
    at = moment(now)
    report = PurgeReport(now=at, dry_run=dry_run)
    _check_row_categories(state)
    size = state.settings.purge_batch_size
    sender = current_app._get_current_object()  # type: ignore[attr-defined]
    for rule in rules(state, at):
        count = _purge_rule(state, rule, dry_run, size)
        report.rows.append(PurgeRow(rule.name, rule.category, rule.cutoff, count))
        if count and not dry_run:
            records_purged.send(sender, model=rule.name, category=rule.category, count=count)
            log.info("purge: %s/%s: %d row(s) removed", rule.name, rule.category, count)
    return report
