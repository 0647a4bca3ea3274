"""Withdrawal (art. 7(3)), objection (art. 21), restriction (art. 18) and
rectification (art. 16): the acts a verified link lets the subject perform."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from .. import consent, mail, signals
from ..config import localize
from ..models import ConsentRecordRow, DataRequestRow, SubjectMarkRow, utcnow
from ..state import State
from .export import rows_of
from .lifecycle import (
    COMPLETED,
    MAX_DETAILS,
    OPEN,
    RequestError,
    claim,
    emit,
    mark_completed,
    notify_maintainer,
)


def active_consents(state: State, email: str) -> list[ConsentRecordRow]:
    return consent.active(state, email)


def withdraw_consents(state: State, request: DataRequestRow, purposes: Iterable[str] | None,
                      language: str | None = None) -> list[str]:
    """Withdraw the given purposes (all active when ``None``). Idempotent per purpose,
    so one consent can be withdrawn after another with the same link."""
    if request.kind != "withdraw" or request.verified_at is None or request.email is None:
        raise RequestError("invalid")
    if request.status not in OPEN:
        raise RequestError("used")
    email = request.email
    active = {r.purpose: r for r in consent.active(state, email)}
    chosen = list(active) if purposes is None else [p for p in purposes if p in active]
    records = []
    for purpose in chosen:
        records.append(consent.withdraw(
            state, email=email, purpose=purpose, wording=active[purpose].wording,
            form="privacy-request", language=language or request.language,
            policy_version=active[purpose].policy_version))
        if purpose == "newsletter":
            unsubscribe_all(state, email)
    if chosen and not (set(active) - set(chosen)):
        mark_completed(request, "consents withdrawn: " + ", ".join(sorted(active)))
    state.db.session.commit()
    for record in records:
        emit(signals.consent_withdrawn, record=record, email=email, purpose=record.purpose)
    if request.status == COMPLETED:
        emit(signals.request_completed, request=request)
    return chosen


def unsubscribe_all(state: State, email: str) -> int:
    """Stop every newsletter subscription of ``email`` (the caller commits)."""
    Subscriber = state.models.Subscriber
    result = state.db.session.execute(
        sa.update(Subscriber).where(Subscriber.email == email,
                                    Subscriber.status != "unsubscribed")
        .values(status="unsubscribed", unsubscribed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_mark(state: State, request: DataRequestRow, grounds: str | None,
                marketing: bool = False) -> SubjectMarkRow:
    """Objection (art. 21) or restriction (art. 18), with its grounds; once per link.

    An objection to direct marketing is absolute (art. 21(3)): the newsletter stops
    at once. Other grounds are weighed by the maintainer, who is mailed.
    """
    if request.kind not in ("objection", "restriction") or request.email is None:
        raise RequestError("invalid")
    claim(state, request)
    email = request.email
    grounds = (grounds or "").strip()[:MAX_DETAILS] or request.details
    kind = request.kind
    mark = state.models.SubjectMark(email=email, kind=kind, grounds=grounds,
                                    request_id=request.id, created_at=utcnow())
    state.db.session.add(mark)
    if kind == "objection" and marketing:
        state.db.session.add(state.models.SubjectMark(
            email=email, kind="objection-marketing", grounds=grounds,
            request_id=request.id, created_at=utcnow()))
        unsubscribe_all(state, email)
    request.details = grounds
    row = notify_maintainer(state, request, "request_mark", grounds=grounds, marketing=marketing)
    state.db.session.commit()
    mail.dispatch(state, [row.id])
    return mark


def editable_records(state: State, email: str, language: str) -> list[dict[str, Any]]:
    """Rows the subject may correct themselves: (source, row id, editable values)."""
    out = []
    for index, source in enumerate(state.sources):
        if not source.editable:
            continue
        pk = source.pk.name
        for row in rows_of(state, source, email):
            out.append({"source": index, "name": source.name,
                        "label": localize(source.label, language) or source.name,
                        "id": row[pk], "fields": {f: row[f] for f in source.editable},
                        "labels": {f: source.field_label(f, language) for f in source.editable}})
    return out


def rectify(state: State, request: DataRequestRow, changes: Mapping[tuple[int, Any, str], str],
            note: str | None) -> int:
    """Apply corrections to editable fields; a note goes to the maintainer.

    ``changes`` maps (source index, row id, field) to the new value; anything not
    editable for this subject is ignored. Once per link.
    """
    if request.kind != "rectification" or request.email is None:
        raise RequestError("invalid")
    claim(state, request)
    email = request.email
    sources = state.sources
    changed = 0
    for (index, row_id, name), value in changes.items():
        if not (0 <= index < len(sources)) or name not in sources[index].editable:
            continue
        source = sources[index]
        column = source.column(name)
        value = (value or "").strip()
        length = getattr(column.type, "length", None)
        if isinstance(column.type, sa.String) and length:
            value = value[:length]
        if not value and not column.nullable:
            continue
        result = state.db.session.execute(
            sa.update(source.table).where(source.pk == row_id, source.of_subject(email),
                                          column.is_distinct_from(value or None))
            .values({name: value or None}))
        changed += int(getattr(result, "rowcount", 0) or 0)
    note = (note or "").strip()[:MAX_DETAILS] or None
    row = None
    if note:
        request.details = note
        row = notify_maintainer(state, request, "request_mark", grounds=note, marketing=False)
    else:
        mark_completed(request, f"self-service correction: {changed} field(s)")
    state.db.session.commit()
    if row is not None:
        mail.dispatch(state, [row.id])
    if request.status == COMPLETED:
        emit(signals.request_completed, request=request)
    return changed
