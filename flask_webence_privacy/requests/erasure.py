"""Erasure (GDPR art. 17): the plan the page shows and the erasure itself.

Both walk the sources with the same function, so the page can never promise
something other than what the erasure does. What stays, and why, comes from
:mod:`~flask_webence_privacy.keeping`: records the law makes us keep (a category
with ``erasable: False``) and everything under a legal hold (art. 17(3)(e)).
The erasure is one transaction over all sources; the subject's requests keep
only the keyed hash of the address, and the ledger gets that hash so a
restored backup can be erased again. Rows that belong to other rows (a source
registered with ``owner``) are erased before those, so every foreign key holds.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from .. import address, keeping, signals, tokens
from ..config import localize
from ..i18n import gettext as _
from ..models import DataRequestRow, utcnow
from ..policy import retention_info
from ..registry import Source, children_first, remove, resolve_owners
from ..state import State
from .lifecycle import COMPLETED, RequestError, claim, emit

log = logging.getLogger(__name__)

class ErasureFailed(RuntimeError):
    """A source raised during erasure: everything was rolled back."""


@dataclass
class SourceResult:
    name: str
    label: str
    count: int
    reason: str | None = None  # for kept records: why


@dataclass
class ErasureReport:
    """What an erasure removed (or, as a plan, will remove) and what it kept, and why."""

    email_hash: str
    erased: list[SourceResult] = field(default_factory=list)
    kept: list[SourceResult] = field(default_factory=list)
    planned: bool = False

    @property
    def erased_count(self) -> int:
        return sum(r.count for r in self.erased)

    def as_dict(self) -> dict[str, Any]:
        return {
            "erased": [{"source": r.name, "label": r.label, "count": r.count} for r in self.erased],
            "kept": [{"source": r.name, "label": r.label, "count": r.count, "reason": r.reason}
                     for r in self.kept],
        }


def _label(source: Source, language: str) -> str:
    return localize(source.label, language) or source.name


def law_reason(state: State, category: str, language: str) -> str:
    info = retention_info(state.settings, category, language)
    return _("%(category)s: kept for %(period)s because the law requires it",
             category=info["label"], period=info["period"])


def hold_reason() -> str:
    return _("kept while we need it for a legal claim (GDPR art. 17(3)(e)); "
             "erased once that is settled")


def restriction_reason() -> str:
    return _("kept while processing is restricted (GDPR art. 18); "
             "ask us to lift the restriction first")


def _count(state: State, source: Source, where: ColumnElement[bool]) -> int:
    return int(state.db.session.scalar(
        sa.select(sa.func.count()).select_from(source.table).where(where)) or 0)


def _walk(state: State, email: str, language: str, *, execute: bool) -> ErasureReport:
    """Every source, rows that belong to other rows first: what is kept (with
    the reason) and what is erased. With ``execute`` the erasable rows are erased
    (the caller commits). An owned source's rows are found through its owner's,
    so they go while those still name the subject; the registry refuses an owned
    source that would stay (by law, or anonymised) where its owner row goes."""
    settings = state.settings
    sources = children_first(resolve_owners(state.sources, settings.retention))
    report = ErasureReport(tokens.keyed_hash(email), planned=not execute)
    whole = keeping.subject_kept(state.db, state.models, email, keeping.ERASURE)
    why = {keeping.Reason.HOLD: hold_reason, keeping.Reason.RESTRICTION: restriction_reason}
    law = [name for name in settings.retention if keeping.kept_by_law(settings, name)]
    for source in sources:
        label = _label(source, language)
        mine = source.of_subject(email)
        kept: list[tuple[str, ColumnElement[bool]]] = []
        if whole is not None:
            kept.append((why[whole](), mine))
            erasable: ColumnElement[bool] | None = None
        elif source.category_column is None:
            if source.category in law:
                kept.append((law_reason(state, source.category, language), mine))
                erasable = None
            else:
                erasable = mine
        else:
            column = source.column(source.category_column)
            kept += [(law_reason(state, name, language), sa.and_(mine, column == name))
                     for name in law]
            erasable = sa.and_(mine, column.not_in(law)) if law else mine
        for reason, where in kept:
            count = _count(state, source, where)
            if count:
                report.kept.append(SourceResult(source.name, label, count, reason))
        if erasable is not None:
            count = (remove(state.db.session, source, erasable) if execute
                     else _count(state, source, erasable))
            if count:
                report.erased.append(SourceResult(source.name, label, count))
    return report


def plan(state: State, email: str, language: str | None = None) -> ErasureReport:
    """What ``erase_subject`` would erase and keep, changing nothing."""
    report = _walk(state, email, language or state.settings.default_language, execute=False)
    state.db.session.rollback()
    return report


def erase_subject(state: State, email: str, request: DataRequestRow | None = None,
                  language: str | None = None) -> ErasureReport:
    """Erase ``email`` (canonical) from every source, in one transaction, but what
    is kept by law or under a hold; report both.

    Any failure rolls everything back (:class:`ErasureFailed`) and is logged with
    its whole traceback, the address written over; the caller's request stays open.
    """
    db, models = state.db, state.models
    language = language or state.settings.default_language
    try:
        report = _walk(state, email, language, execute=True)
        if keeping.subject_kept(db, models, email, keeping.ERASURE) is None:
            # Marks of objection/restriction would keep the address: the erasure
            # and its ledger entry now do their work (nothing is left to process).
            db.session.execute(sa.delete(models.SubjectMark).where(models.SubjectMark.email == email))
        db.session.add(models.ErasureLedger(
            email_hash=report.email_hash, request_id=request.id if request is not None else None,
            erased_at=utcnow()))
        if request is not None:
            DataRequest = models.DataRequest
            db.session.execute(
                sa.update(DataRequest).where(DataRequest.id == request.id)
                .values(status=COMPLETED, completed_at=utcnow(), resolution=_resolution(report))
                .execution_options(synchronize_session=False))
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.error("privacy erasure rolled back:\n%s", traceback_without(exc, email))
        raise ErasureFailed(type(exc).__name__) from exc
    if request is not None:
        db.session.expire(request)
    emit(signals.subject_erased, email_hash=report.email_hash, report=report)
    if request is not None:
        emit(signals.request_completed, request=request)
    return report


def traceback_without(exc: BaseException, email: str) -> str:
    """The whole traceback of ``exc``, for the log, without the address: a database
    error names its statement's parameters (SQLAlchemy is told to leave them out)
    and the database's own message, or a site's erase callable, may quote it
    (PostgreSQL's "Key (email)=(...)"), so it is written over in any case."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.StatementError):
            seen.hide_parameters = True
        seen = seen.__cause__ or seen.__context__
    text = "".join(traceback.format_exception(exc))
    return re.sub(re.escape(email), "<address>", text, flags=re.IGNORECASE) if email else text


def _resolution(report: ErasureReport) -> str:
    erased = ", ".join(f"{r.name}: {r.count}" for r in report.erased) or "nothing"
    kept = ", ".join(f"{r.name}: {r.count}" for r in report.kept) or "nothing"
    return f"erased {erased}; kept {kept}"


def erase_by_request(state: State, request: DataRequestRow) -> ErasureReport:
    """The portal's erasure: claim the link and erase, all in one transaction."""
    if request.kind != "erasure" or request.email is None:
        raise RequestError("invalid")
    email, language = request.email, request.language
    claim(state, request)
    return erase_subject(state, email, request=request, language=language)


def replay_erasures(state: State, progress: Callable[[], None] | None = None) -> ErasureReport:
    """Erase again what a restored backup brought back: every address whose keyed
    hash is in the ledger, found through each source's address column."""
    ledger = set(state.db.session.scalars(sa.select(state.models.ErasureLedger.email_hash)))
    total = ErasureReport(email_hash="*")
    if not ledger:
        return total
    found: set[str] = set()
    for source in state.sources:
        if source.owner is not None:
            continue  # no address of its own: erased with its owner's rows
        column = source.email_column
        for value in state.db.session.scalars(sa.select(column).where(column.is_not(None))
                                              .distinct()):
            key = address.lookup_key(value)
            if key and tokens.keyed_hash(key) in ledger:
                found.add(key)
        if progress is not None:
            progress()
    for email in sorted(found):
        report = erase_subject(state, email)
        total.erased.extend(report.erased)
        total.kept.extend(report.kept)
    return total
