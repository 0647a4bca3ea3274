"""The data subject's requests: filing, verifying, acting, and the deadline clock.

A request is filed with an address and a kind; a signed link mailed to that
address proves control of it (no identity document is ever asked for). The
token carries only the request id and a random nonce; the row keeps a keyed
hash of the nonce. Verification starts the deadline clock
(``PRIVACY_REQUEST_DEADLINE_DAYS``). Acts that change data (erasure, correction,
objection, restriction) claim the token with a conditional UPDATE on
``token_used_at IS NULL``, so two concurrent POSTs give one success.

Nothing here reads the Flask request: views, the admin and the CLI share it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app, render_template, url_for

from . import consent, mail, signals, tokens
from .config import localize
from .models import utcnow
from .rights import KINDS

#: Statuses of a request; the open ones are on the maintainer's list.
UNVERIFIED, VERIFIED, COMPLETED, REJECTED = "unverified", "verified", "completed", "rejected"
OPEN = (UNVERIFIED, VERIFIED)
#: A second identical request within this window sends no second mail (a cap on
#: mail to one address, so the form cannot be used to flood a mailbox).
RESEND_WINDOW = dt.timedelta(minutes=10)
#: GDPR art. 12(3): the deadline may be extended by at most two further months.
MAX_EXTENSION = relativedelta(months=2)
MAX_DETAILS = 4000
#: Kinds whose act the visitor performs on the page; access and portability are
#: served by showing the data, so verification completes them.
SELF_SERVED = ("access", "portability")


class RequestError(Exception):
    """A request cannot be acted on; ``reason`` says why (for the page)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # invalid | expired | used | closed | unverified | failed


class ErasureFailed(RuntimeError):
    """A source raised during erasure: everything was rolled back."""


@dataclass
class Filed:
    """What ``create_request`` did: the request, and the mail it queued (if any)."""

    request: Any
    mail_id: int | None = None
    created: bool = False


@dataclass
class SourceResult:
    name: str
    label: str
    count: int
    reason: str | None = None  # for kept records: why


@dataclass
class ErasureReport:
    """What an erasure removed and what it kept, and why (GDPR art. 17(3))."""

    email_hash: str
    erased: list[SourceResult] = field(default_factory=list)
    kept: list[SourceResult] = field(default_factory=list)

    @property
    def erased_count(self) -> int:
        return sum(r.count for r in self.erased)

    def as_dict(self) -> dict[str, Any]:
        return {
            "erased": [{"source": r.name, "label": r.label, "count": r.count} for r in self.erased],
            "kept": [{"source": r.name, "label": r.label, "count": r.count, "reason": r.reason}
                     for r in self.kept],
        }


# -- helpers ---------------------------------------------------------------------


def _send(state: Any, *ids: int | None) -> None:
    ids = tuple(i for i in ids if i is not None)
    if ids:
        mail.send(state.db, state.models, ids)


def _emit(signal: Any, **kwargs: Any) -> None:
    signal.send(current_app._get_current_object(), **kwargs)


def due(request: Any) -> dt.datetime | None:
    """The deadline in force: the extension if one was granted, else the first."""
    return request.extended_until or request.due_at


def is_overdue(request: Any, now: dt.datetime | None = None) -> bool:
    deadline = due(request)
    return request.status in OPEN and deadline is not None and deadline < (now or utcnow())


def make_token(request_id: int) -> tuple[str, str]:
    """A fresh link token and the keyed hash of its nonce (what the row stores)."""
    nonce = tokens.nonce()
    return tokens.make("request", {"r": request_id, "n": nonce}), tokens.keyed_hash(nonce)


def link(token: str) -> str:
    return url_for("webence_privacy.request_page", token=token, _external=True)


# -- filing and verifying --------------------------------------------------------


def create_request(state: Any, email: str, kind: str, details: str | None = None,
                   language: str | None = None) -> Filed:
    """File a request (``email`` already validated and normalised) and mail the link.

    An open request of the same kind for the same address is not filed twice: its
    link is mailed again with a fresh token (the old link dies), at most once per
    ``RESEND_WINDOW``. The caller shows the same page whatever happened here.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}")
    db, models = state.db, state.models
    DataRequest = models.DataRequest
    language = language or state.settings.default_language
    details = (details or "").strip()[:MAX_DETAILS] or None
    now = utcnow()
    existing = db.session.scalars(
        db.select(DataRequest)
        .where(DataRequest.email == email, DataRequest.kind == kind,
               DataRequest.status.in_(OPEN))
        .order_by(DataRequest.id.desc())
    ).first()
    if existing is not None:
        recent = db.session.scalar(
            db.select(sa.func.count()).select_from(models.Outbox).where(
                models.Outbox.subject_email == email,
                models.Outbox.kind == "request-verify",
                models.Outbox.created_at >= now - RESEND_WINDOW,
            )
        )
        if recent:
            db.session.rollback()
            return Filed(existing)
        request, created = existing, False
        if details and not request.details:
            request.details = details
    else:
        request = DataRequest(email=email, email_hash=tokens.keyed_hash(email), kind=kind,
                              details=details, status=UNVERIFIED, language=language,
                              created_at=now)
        db.session.add(request)
        db.session.flush()  # the id goes into the token
        created = True
    token, token_hash = make_token(request.id)
    request.token_hash = token_hash
    row = mail.queue(
        db, models, kind="request-verify", to=email, template="request_verify",
        language=request.language or language, subject_email=email,
        url=link(token), kind_label=_kind_label(kind), req=request,
        max_age_hours=state.settings.token_max_age // 3600,
    )
    db.session.commit()
    if created:
        _emit(signals.request_created, request=request)
    _send(state, row.id)
    return Filed(request, row.id, created)


def load(state: Any, token: str) -> Any:
    """The request a link points to; :class:`RequestError` when it does not work.

    A token of another purpose, tampered, garbage or overlong is "invalid"; past
    ``PRIVACY_TOKEN_MAX_AGE`` "expired"; replaced by a newer link, or the request
    closed by erasure, "invalid" too (the row no longer holds its hash).
    """
    try:
        payload = tokens.load("request", token, max_age=state.settings.token_max_age)
    except tokens.TokenError as exc:
        raise RequestError(exc.reason) from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("r"), int) \
            or not isinstance(payload.get("n"), str):
        raise RequestError("invalid")
    request = state.db.session.get(state.models.DataRequest, payload["r"])
    if request is None or request.token_hash != tokens.keyed_hash(payload["n"]) \
            or request.email is None:
        raise RequestError("invalid")
    return request


def verify(state: Any, token: str) -> Any:
    """Mark the request verified (a POST): starts the clock and mails the maintainer.

    Idempotent: a second POST finds it verified and changes nothing.
    """
    request = load(state, token)
    if request.status == REJECTED:
        raise RequestError("closed")
    db, models = state.db, state.models
    now = utcnow()
    deadline = now + dt.timedelta(days=state.settings.request_deadline_days)
    DataRequest = models.DataRequest
    result = db.session.execute(
        db.update(DataRequest)
        .where(DataRequest.id == request.id, DataRequest.verified_at.is_(None))
        .values(verified_at=now, due_at=deadline, status=VERIFIED)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return load(state, token)
    db.session.refresh(request)
    if request.kind in SELF_SERVED:
        # The data is handed over on the page this verification opens.
        request.status, request.completed_at = COMPLETED, now
        request.resolution = "self-service: data shown and offered as download"
    row = _notify_maintainer(state, request, "request_verified")
    db.session.commit()
    _emit(signals.request_verified, request=request)
    if request.status == COMPLETED:
        _emit(signals.request_completed, request=request)
    _send(state, row.id)
    return request


def _notify_maintainer(state: Any, request: Any, template: str, **context: Any) -> Any:
    admin_url = None
    if "webence_privacy.admin_detail" in current_app.view_functions:
        admin_url = url_for("webence_privacy.admin_detail", request_id=request.id,
                            _external=True)
    return mail.queue(
        state.db, state.models, kind="request-notify", to=state.settings.notify_email,
        template=template, language=state.settings.default_language,
        subject_email=request.email, req=request, kind_label=_kind_label(request.kind),
        admin_url=admin_url, due=due(request), **context,
    )


def _kind_label(kind: str) -> Any:
    """Lazy, so a mail renders it in the recipient's language."""
    from .rights import BY_KIND

    return BY_KIND[kind].label


def claim(state: Any, request: Any) -> None:
    """Use the link for an act that changes data: once, even under concurrency.

    Runs inside the caller's transaction, so a rollback gives the link back.
    """
    if request.verified_at is None:
        raise RequestError("unverified")
    if request.status not in OPEN:
        raise RequestError("used")
    DataRequest = state.models.DataRequest
    result = state.db.session.execute(
        state.db.update(DataRequest)
        .where(DataRequest.id == request.id, DataRequest.token_used_at.is_(None))
        .values(token_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        state.db.session.rollback()
        raise RequestError("used")


def _complete(request: Any, resolution: str) -> None:
    request.status = COMPLETED
    request.completed_at = utcnow()
    request.resolution = resolution


# -- access and portability ------------------------------------------------------


def _value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _retention_info(state: Any, source: Any, rows: list[dict], language: str) -> dict:
    from .policy import _retention

    if source.category_column is None:
        names = [source.category]
    else:
        names = sorted({r.get(source.category_column) or "default" for r in rows} or {"default"})
    return {"categories": [_retention(state.settings, n, language) for n in names
                           if n in state.settings.retention]}


def _rows(state: Any, source: Any, email: str) -> list[Any]:
    table = source.table
    return list(state.db.session.execute(
        sa.select(table).where(table.c[source.email] == email).order_by(*table.primary_key)
    ).mappings())


def export_subject(state: Any, email: str, language: str | None = None) -> dict[str, Any]:
    """Every record of ``email`` from every registered source, grouped by source,
    each with its purpose and retention period (GDPR arts. 15 and 20)."""
    language = language or state.settings.default_language
    out: list[dict[str, Any]] = []
    for source in state.sources:
        rows = _rows(state, source, email)
        wanted = source.exported_fields()
        # The category column is read for the retention info even if not exported.
        records = [{name: _value(row[name]) for name in wanted} for row in rows]
        raw = [dict(row) for row in rows]
        out.append({
            "source": source.name,
            "label": localize(source.label, language) or source.name,
            "purpose": localize(source.purpose, language),
            "retention": _retention_info(state, source, raw, language),
            "count": len(records),
            "records": records,
        })
    return {
        "controller": state.settings.controller_name,
        "contact": state.settings.contact_email,
        "subject": email,
        "generated_at": utcnow().replace(microsecond=0).isoformat() + "Z",
        "sources": out,
    }


def export_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)


def neutralise(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def export_zip(data: Mapping[str, Any]) -> bytes:
    """A ZIP with a readable index.html, export.json and one CSV per source."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", export_json(data))
        archive.writestr("index.html", render_template(
            "webence_privacy/request_export_index.html", data=data))
        for source in data["sources"]:
            if not source["records"]:
                continue
            text = io.StringIO()
            writer = csv.writer(text)
            columns = list(source["records"][0])
            writer.writerow([neutralise(c) for c in columns])
            for record in source["records"]:
                writer.writerow([neutralise(record.get(c)) for c in columns])
            archive.writestr(f"{source['source']}.csv", text.getvalue())
    return buffer.getvalue()


# -- erasure ---------------------------------------------------------------------


def _label(source: Any, language: str) -> str:
    return localize(source.label, language) or source.name


def _anonymize(state: Any, source: Any, where: Any) -> int:
    """Personal columns to NULL (or a marker where NULL is not allowed)."""
    table = source.table
    keep = {c.name for c in table.primary_key.columns} | {source.timestamp}
    if source.category_column:
        keep.add(source.category_column)
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name in keep:
            continue
        if column.nullable:
            values[column.name] = None
        elif isinstance(column.type, sa.String):
            values[column.name] = "[erased]"[: column.type.length or 8]
    result = state.db.session.execute(sa.update(table).where(where).values(**values))
    return result.rowcount or 0


def _erase_rows(state: Any, source: Any, where: Any) -> int:
    if callable(source.erase):
        query = state.db.session.query(source.model).filter(where)
        return int(source.erase(query) or 0)
    if source.erase == "anonymize":
        return _anonymize(state, source, where)
    result = state.db.session.execute(sa.delete(source.table).where(where))
    return result.rowcount or 0


def _kept_reason(state: Any, name: str, language: str) -> str:
    from .i18n import gettext as _
    from .policy import _retention

    info = _retention(state.settings, name, language)
    return _("%(category)s: kept for %(period)s because the law requires it",
             category=info["label"], period=info["period"])


def erase_subject(state: Any, email: str, request: Any = None,
                  language: str | None = None) -> ErasureReport:
    """Erase ``email`` from every source but statutory holds, in one transaction.

    Sources whose retention category is ``erasable: False`` are kept and reported
    with the reason. The subject's requests keep their keyed hash only; the ledger
    gets the hash so a restored backup can be erased again. Any failure rolls
    everything back (:class:`ErasureFailed`); the caller's request stays open.
    """
    db, models, settings = state.db, state.models, state.settings
    language = language or settings.default_language
    email_hash = tokens.keyed_hash(email)
    report = ErasureReport(email_hash)
    special = {models.DataRequest, models.Outbox}
    try:
        for source in state.sources:
            if source.model in special:
                continue
            column = source.column(source.email)
            where = column == email
            if source.category_column is None:
                category = settings.category(source.category)
                if not category.erasable:
                    count = db.session.scalar(
                        sa.select(sa.func.count()).select_from(source.table).where(where))
                    if count:
                        report.kept.append(SourceResult(source.name, _label(source, language),
                                                        count, _kept_reason(state, category.name,
                                                                            language)))
                    continue
                count = _erase_rows(state, source, where)
            else:
                kept_names = [n for n, c in settings.retention.items() if not c.erasable]
                cat_col = source.column(source.category_column)
                for name in kept_names:
                    n = db.session.scalar(sa.select(sa.func.count()).select_from(source.table)
                                          .where(where, cat_col == name))
                    if n:
                        report.kept.append(SourceResult(source.name, _label(source, language),
                                                        n, _kept_reason(state, name, language)))
                count = _erase_rows(state, source, sa.and_(where, cat_col.not_in(kept_names))
                                    if kept_names else where)
            if count:
                report.erased.append(SourceResult(source.name, _label(source, language), count))
        # Mail about the subject (sent or still queued) goes too.
        Outbox = models.Outbox
        count = db.session.execute(sa.delete(Outbox).where(
            sa.or_(Outbox.subject_email == email, Outbox.recipient == email))).rowcount or 0
        if count:
            source = next(s for s in state.sources if s.model is Outbox)
            report.erased.append(SourceResult(source.name, _label(source, language), count))
        # Marks of objection/restriction would keep the address: the erasure and its
        # ledger entry now do their work (nothing is left to process).
        db.session.execute(sa.delete(models.SubjectMark).where(models.SubjectMark.email == email))
        DataRequest = models.DataRequest
        count = db.session.execute(
            sa.update(DataRequest).where(DataRequest.email == email)
            .values(email=None, details=None, token_used_at=sa.func.coalesce(
                DataRequest.token_used_at, utcnow()))
            .execution_options(synchronize_session=False)
        ).rowcount or 0
        if count:
            source = next(s for s in state.sources if s.model is DataRequest)
            report.erased.append(SourceResult(source.name, _label(source, language), count))
        db.session.add(models.ErasureLedger(
            email_hash=email_hash, request_id=request.id if request is not None else None,
            erased_at=utcnow()))
        if request is not None:
            db.session.execute(
                sa.update(DataRequest).where(DataRequest.id == request.id)
                .values(status=COMPLETED, completed_at=utcnow(),
                        resolution=_resolution(report))
                .execution_options(synchronize_session=False))
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        current_app.logger.error("privacy erasure rolled back: %s", type(exc).__name__)
        raise ErasureFailed(type(exc).__name__) from exc
    if request is not None:
        db.session.expire(request)
    _emit(signals.subject_erased, email_hash=email_hash, report=report)
    if request is not None:
        _emit(signals.request_completed, request=request)
    return report


def _resolution(report: ErasureReport) -> str:
    erased = ", ".join(f"{r.name}: {r.count}" for r in report.erased) or "nothing"
    kept = ", ".join(f"{r.name}: {r.count}" for r in report.kept) or "nothing"
    return f"erased {erased}; kept {kept}"


def erase_by_request(state: Any, request: Any) -> ErasureReport:
    """The portal's erasure: claim the link and erase, all in one transaction."""
    if request.kind != "erasure":
        raise RequestError("invalid")
    email = request.email
    language = request.language
    claim(state, request)
    return erase_subject(state, email, request=request, language=language)


def replay_erasures(state: Any) -> ErasureReport:
    """Erase again what a restored backup brought back: every address whose keyed
    hash is in the ledger. Finds addresses through each source's email column."""
    ledger = set(state.db.session.scalars(sa.select(state.models.ErasureLedger.email_hash)))
    total = ErasureReport(email_hash="*")
    if not ledger:
        return total
    found: set[str] = set()
    for source in state.sources:
        column = source.column(source.email)
        for value in state.db.session.scalars(sa.select(column).where(column.is_not(None))
                                              .distinct()):
            if value and tokens.keyed_hash(value) in ledger:
                found.add(value)
    for email in sorted(found):
        report = erase_subject(state, email)
        total.erased.extend(report.erased)
        total.kept.extend(report.kept)
    return total


# -- withdraw, objection, restriction, rectification ----------------------------


def active_consents(state: Any, email: str) -> list[Any]:
    return consent.active(state, email)


def withdraw_consents(state: Any, request: Any, purposes: Iterable[str] | None,
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
            _unsubscribe(state, email)
    if chosen and not (set(active) - set(chosen)):
        _complete(request, "consents withdrawn: " + ", ".join(sorted(active)))
    state.db.session.commit()
    for record in records:
        _emit(signals.consent_withdrawn, record=record, email=email, purpose=record.purpose)
    if request.status == COMPLETED:
        _emit(signals.request_completed, request=request)
    return chosen


def _unsubscribe(state: Any, email: str) -> int:
    Subscriber = state.models.Subscriber
    return state.db.session.execute(
        sa.update(Subscriber).where(Subscriber.email == email,
                                    Subscriber.status != "unsubscribed")
        .values(status="unsubscribed", unsubscribed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount or 0


def record_mark(state: Any, request: Any, grounds: str | None, marketing: bool = False) -> Any:
    """Objection (art. 21) or restriction (art. 18), with its grounds; once per link.

    An objection to direct marketing is absolute (art. 21(3)): the newsletter stops
    at once. Other grounds are weighed by the maintainer, who is mailed.
    """
    if request.kind not in ("objection", "restriction"):
        raise RequestError("invalid")
    claim(state, request)
    grounds = (grounds or "").strip()[:MAX_DETAILS] or request.details
    kind = request.kind
    mark = state.models.SubjectMark(email=request.email, kind=kind, grounds=grounds,
                                    request_id=request.id, created_at=utcnow())
    state.db.session.add(mark)
    if kind == "objection" and marketing:
        state.db.session.add(state.models.SubjectMark(
            email=request.email, kind="objection-marketing", grounds=grounds,
            request_id=request.id, created_at=utcnow()))
        _unsubscribe(state, request.email)
    request.details = grounds
    row = _notify_maintainer(state, request, "request_mark", grounds=grounds,
                             marketing=marketing)
    state.db.session.commit()
    _send(state, row.id)
    return mark


def is_restricted(state: Any, email: str) -> bool:
    """True while a restriction (art. 18) of the subject is not lifted."""
    Mark = state.models.SubjectMark
    return bool(state.db.session.scalar(
        sa.select(sa.func.count()).select_from(Mark).where(
            Mark.email == email, Mark.kind == "restriction", Mark.lifted_at.is_(None))))


def objects_to_marketing(state: Any, email: str) -> bool:
    """True when the subject objected to direct marketing (no newsletter mail)."""
    Mark = state.models.SubjectMark
    return bool(state.db.session.scalar(
        sa.select(sa.func.count()).select_from(Mark).where(
            Mark.email == email, Mark.kind == "objection-marketing", Mark.lifted_at.is_(None))))


def editable_records(state: Any, email: str, language: str) -> list[dict[str, Any]]:
    """Rows the subject may correct themselves: (source, row id, editable values)."""
    out = []
    for index, source in enumerate(state.sources):
        if not source.editable:
            continue
        pk = list(source.table.primary_key.columns)[0].name
        for row in _rows(state, source, email):
            out.append({"source": index, "name": source.name, "label": _label(source, language),
                        "id": row[pk],
                        "fields": {f: row[f] for f in source.editable}})
    return out


def rectify(state: Any, request: Any, changes: Mapping[tuple[int, Any, str], str],
            note: str | None) -> int:
    """Apply corrections to editable fields; a note goes to the maintainer.

    ``changes`` maps (source index, row id, field) to the new value; anything not
    editable for this subject is ignored. Once per link.
    """
    if request.kind != "rectification":
        raise RequestError("invalid")
    claim(state, request)
    email = request.email
    sources = state.sources
    changed = 0
    for (index, row_id, name), value in changes.items():
        if not (0 <= index < len(sources)) or name not in sources[index].editable:
            continue
        source = sources[index]
        table = source.table
        pk = list(table.primary_key.columns)[0]
        column = table.c[name]
        value = (value or "").strip()
        if isinstance(column.type, sa.String) and column.type.length:
            value = value[: column.type.length]
        if not value and not column.nullable:
            continue
        result = state.db.session.execute(
            sa.update(table).where(pk == row_id, table.c[source.email] == email,
                                   column.is_distinct_from(value or None))
            .values({name: value or None}))
        changed += result.rowcount or 0
    note = (note or "").strip()[:MAX_DETAILS] or None
    row = None
    if note:
        request.details = note
        row = _notify_maintainer(state, request, "request_mark", grounds=note, marketing=False)
    else:
        _complete(request, f"self-service correction: {changed} field(s)")
    state.db.session.commit()
    if row is not None:
        _send(state, row.id)
    if request.status == COMPLETED:
        _emit(signals.request_completed, request=request)
    return changed


# -- the maintainer's side -------------------------------------------------------


def list_requests(state: Any, *, overdue_only: bool = False, include_closed: bool = False,
                  now: dt.datetime | None = None) -> list[Any]:
    """Confirmed open requests, overdue first, then by due date.

    Unconfirmed ones are left out unless ``include_closed``: nobody has shown the
    address is theirs yet, and the clock has not started (they may be spam).
    """
    now = now or utcnow()
    DataRequest = state.models.DataRequest
    query = sa.select(DataRequest)
    if not include_closed:
        query = query.where(DataRequest.status == VERIFIED)
    rows = list(state.db.session.scalars(query))
    if overdue_only:
        rows = [r for r in rows if is_overdue(r, now)]
    far = dt.datetime.max
    return sorted(rows, key=lambda r: (not is_overdue(r, now), r.status not in OPEN,
                                       due(r) or far, r.id))


def overdue(state: Any, now: dt.datetime | None = None) -> list[Any]:
    return list_requests(state, overdue_only=True, now=now)


def get(state: Any, request_id: int) -> Any:
    return state.db.session.get(state.models.DataRequest, request_id)


def complete(state: Any, request: Any, resolution: str | None = None) -> Any:
    if request.status not in OPEN:
        raise RequestError("closed")
    _complete(request, (resolution or "").strip()[:MAX_DETAILS] or "completed by the maintainer")
    state.db.session.commit()
    _emit(signals.request_completed, request=request)
    return request


def reject(state: Any, request: Any, reason: str) -> Any:
    """Refuse a request with a reason; the requester is told why (art. 12(4))."""
    reason = (reason or "").strip()[:MAX_DETAILS]
    if not reason:
        raise ValueError("a rejection needs a reason")
    if request.status not in OPEN:
        raise RequestError("closed")
    request.status, request.completed_at, request.resolution = REJECTED, utcnow(), reason
    row = None
    if request.email:
        row = mail.queue(state.db, state.models, kind="request-rejected", to=request.email,
                         template="request_rejected", language=request.language or
                         state.settings.default_language, subject_email=request.email,
                         req=request, kind_label=_kind_label(request.kind), reason=reason)
    state.db.session.commit()
    _emit(signals.request_completed, request=request)
    if row is not None:
        _send(state, row.id)
    return request


def extend(state: Any, request: Any, reason: str, months: int = 2) -> Any:
    """Extend the deadline (art. 12(3)) by up to two months, mailing the reason."""
    reason = (reason or "").strip()[:MAX_DETAILS]
    if not reason:
        raise ValueError("an extension needs a reason")
    if request.status != VERIFIED or request.due_at is None:
        raise RequestError("closed")
    if not 1 <= months <= 2:
        raise ValueError("an extension is one or two months")
    until = request.due_at + relativedelta(months=months)
    request.extended_until = min(until, request.due_at + MAX_EXTENSION)
    request.extension_reason = reason
    row = mail.queue(state.db, state.models, kind="request-extended", to=request.email,
                     template="request_extended",
                     language=request.language or state.settings.default_language,
                     subject_email=request.email, req=request,
                     kind_label=_kind_label(request.kind), reason=reason,
                     until=request.extended_until)
    state.db.session.commit()
    _send(state, row.id)
    return request
