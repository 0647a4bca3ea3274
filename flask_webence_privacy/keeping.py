"""What is kept: the one place that says whose data survives the purge or an erasure.

Three things keep personal data past its period or a request to erase it:

- the law: a retention category with ``erasable: False`` (the 7-year
  bookkeeping duty) is kept on an erasure request, and purged when its time
  is up;
- a legal hold (``privacy.hold``): everything of the subject is kept, through
  the purge and through erasure (GDPR art. 17(3)(e): needed for legal claims),
  until released;
- a restriction of processing (art. 18), in force or asked for through a
  verified link: the purge keeps the subject's rows, and so does an erasure
  (the visitor is told why, and that lifting the restriction comes first).

The purge, the erasure, the erasure page and the newsletter ask here, so they
cannot disagree. The predicates take the subject as an SQL expression: for rows
that belong to a person through another model (a source registered with
``owner``) it is their owner row's address, read through the foreign keys
(:meth:`~flask_webence_privacy.registry.Source.subject_key`), so a held or
restricted person's posts and comments are kept with their account.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.sql.elements import ColumnElement

from .config import Settings
from .models import HoldRow, Models, utcnow
from .registry import Rule, RuleContext

#: Statuses of a request that is still open (mirrored by the request lifecycle).
OPEN_REQUEST = ("unverified", "verified")


class Reason(enum.Enum):
    LAW = "law"
    HOLD = "hold"
    RESTRICTION = "restriction"


#: What keeps a subject's rows: the purge and the erasure ask the same.
PURGE = ERASURE = frozenset({Reason.HOLD, Reason.RESTRICTION})


def kept_by_law(settings: Settings, category: str) -> bool:
    """Rows of this retention category are kept on an erasure request."""
    return not settings.category(category).erasable


def held(models: Models, subject: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: an active legal hold covers the subject (``subject``: canonical address)."""
    Hold = models.Hold
    return sa.exists().where(Hold.email == subject, Hold.released_at.is_(None))


def restricted(models: Models, subject: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: a restriction of processing (art. 18) is in force for the subject."""
    Mark = models.SubjectMark
    return sa.exists().where(Mark.email == subject, Mark.kind == "restriction",
                             Mark.lifted_at.is_(None))


def restriction_asked(models: Models, subject: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: the subject has a verified, open request to restrict processing; while
    it is settled the data must not go (art. 18(1)). Unverified requests do not
    count: anyone can type anyone's address."""
    Request = models.DataRequest
    return sa.exists().where(Request.email == subject, Request.kind == "restriction",
                             Request.status.in_(OPEN_REQUEST), Request.verified_at.is_not(None),
                             Request.completed_at.is_(None))


def kept(models: Models, subject: ColumnElement[str],
         reasons: Iterable[Reason] = PURGE) -> ColumnElement[bool]:
    """SQL: the subject's rows are kept for one of ``reasons``. The predicate the
    purge adds to every rule and the erasure plan asks for each subject."""
    clauses: list[ColumnElement[bool]] = []
    wanted = set(reasons)
    if Reason.HOLD in wanted:
        clauses.append(held(models, subject))
    if Reason.RESTRICTION in wanted:
        clauses += [restricted(models, subject), restriction_asked(models, subject)]
    return sa.or_(*clauses) if clauses else sa.false()


def anyone_kept(db: SQLAlchemy, models: Models, reasons: Iterable[Reason] = PURGE) -> bool:
    """Whether any hold or restriction is in force at all. Usually none is, and
    then the per-row checks can be left out of the purge's statements (they are
    most of a batch's cost)."""
    wanted = set(reasons)
    checks = []
    if Reason.HOLD in wanted:
        checks.append(sa.select(models.Hold.id).where(models.Hold.released_at.is_(None)))
    if Reason.RESTRICTION in wanted:
        Mark, Request = models.SubjectMark, models.DataRequest
        checks.append(sa.select(Mark.id).where(Mark.kind == "restriction", Mark.lifted_at.is_(None)))
        checks.append(sa.select(Request.id).where(
            Request.kind == "restriction", Request.status.in_(OPEN_REQUEST),
            Request.verified_at.is_not(None), Request.completed_at.is_(None)))
    return any(db.session.execute(q.limit(1)).first() is not None for q in checks)


def subject_kept(db: SQLAlchemy, models: Models, email: str,
                 reasons: Iterable[Reason] = ERASURE) -> Reason | None:
    """Why every row of the subject (canonical ``email``) is kept, or None."""
    wanted = set(reasons)
    subject = sa.literal(email)
    if Reason.HOLD in wanted and db.session.scalar(sa.select(held(models, subject))):
        return Reason.HOLD
    if Reason.RESTRICTION in wanted and db.session.scalar(sa.select(sa.or_(
            restricted(models, subject), restriction_asked(models, subject)))):
        return Reason.RESTRICTION
    return None


def is_restricted(db: SQLAlchemy, models: Models, email: str) -> bool:
    """True while a restriction (art. 18) of the subject is in force."""
    return db.session.scalar(sa.select(restricted(models, sa.literal(email)))) is True


def place_hold(db: SQLAlchemy, models: Models, email: str, reason: str) -> HoldRow:
    """Keep every record of ``email`` (canonical) until released; committed."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a hold needs a reason")
    row = models.Hold(email=email, reason=reason, created_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def release_holds(db: SQLAlchemy, models: Models, email: str) -> int:
    """End the active holds of ``email`` (canonical); committed. Returns how many."""
    Hold = models.Hold
    result = db.session.execute(
        sa.update(Hold).where(Hold.email == email, Hold.released_at.is_(None))
        .values(released_at=utcnow()))
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def rules(context: RuleContext) -> Iterator[Rule]:
    """A released hold and a lifted mark are kept one proof period, as the record
    of why data outlived its period, then go like everything else."""
    Hold, Mark = context.models.Hold, context.models.SubjectMark
    cutoff = context.settings.proof_retention.cutoff(context.now)
    yield Rule(Hold.__table__, "Hold", "released", cutoff,
               sa.and_(Hold.released_at.is_not(None), Hold.released_at < cutoff))
    yield Rule(Mark.__table__, "SubjectMark", "lifted", cutoff,
               sa.and_(Mark.lifted_at.is_not(None), Mark.lifted_at < cutoff))
