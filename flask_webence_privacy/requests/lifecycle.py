"""Filing, verifying and closing requests, and the deadline clock.

A request is filed with an address and a kind; a signed link mailed to that
address proves control of it (no identity document is ever asked for). The
token carries only the request id and a random nonce; the row keeps a keyed
hash of the nonce. Verification starts the deadline clock
(``PRIVACY_REQUEST_DEADLINE_DAYS``). Acts that change data (erasure, correction,
objection, restriction) claim the token with a conditional UPDATE on
``token_used_at IS NULL``, so two concurrent POSTs give one success.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from blinker import NamedSignal
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy.sql import Select

from .. import address, mail, signals, tokens
from ..config import Settings
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..keeping import OPEN_REQUEST
from ..labels import (
    SELF_SERVED_OUTCOME,
    channel_label,
    date_only,
    kind_label,
    request_kind,
    request_outcome,
    request_status,
)
from ..links import external_url
from ..models import DataRequestRow, Models, utcnow
from ..policy import format_days, format_period
from ..registry import Rule, RuleContext, Source, make_source
from ..rights import kinds, self_served
from ..state import State, get_state

#: Statuses of a request; the open ones are on the maintainer's list.
UNVERIFIED, VERIFIED, COMPLETED, REJECTED = "unverified", "verified", "completed", "rejected"
OPEN = OPEN_REQUEST
#: A second identical request within this window sends no second mail (a cap on
#: mail to one address, so the form cannot be used to flood a mailbox).
RESEND_WINDOW = dt.timedelta(minutes=10)
#: GDPR art. 12(3): the deadline may be extended by at most two further months.
MAX_EXTENSION = relativedelta(months=2)
MAX_DETAILS = 4000
#: The portal's channel, and those of requests the maintainer files for a person
#: who wrote, phoned or sent a letter (their labels: :func:`labels.channel_label`).
WEB = "web"
CHANNELS = ("mail", "phone", "letter")
#: ``flask privacy remind`` warns this long before a deadline.
REMIND_BEFORE = dt.timedelta(days=7)


class RequestError(Exception):
    """A request cannot be acted on; ``reason`` says why (for the page)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # invalid | expired | used | closed | unverified | failed


class FilingError(ValueError):
    """The maintainer's input for a request is refused; ``field`` names the input
    (email, kind, channel, received) and the message names the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Filed:
    """What ``create_request`` did: the request, and the mail it queued (if any)."""

    request: DataRequestRow
    mail_id: int | None = None
    created: bool = False


def emit(signal: NamedSignal, **kwargs: Any) -> None:
    signal.send(current_app._get_current_object(), **kwargs)  # type: ignore[attr-defined]


def due(request: DataRequestRow) -> dt.datetime | None:
    """The deadline in force: the extension if one was granted, else the first."""
    return request.extended_until or request.due_at


def deadline_from(state: State, start: dt.datetime) -> dt.datetime:
    """The first deadline of a request whose clock starts at ``start``: the one
    rule for the portal (from confirmation) and the maintainer's (from receipt)."""
    return start + dt.timedelta(days=state.settings.request_deadline_days)


def is_overdue(request: DataRequestRow, now: dt.datetime | None = None) -> bool:
    deadline = due(request)
    return request.status in OPEN and deadline is not None and deadline < (now or utcnow())


def make_token(request_id: int) -> tuple[str, str]:
    """A fresh link token and the keyed hash of its nonce (what the row stores)."""
    nonce = tokens.nonce()
    return tokens.make("request", {"r": request_id, "n": nonce}), tokens.keyed_hash(nonce)


def link(token: str, language: str | None = None) -> str:
    """The request's page; in the visitor's language when one is known."""
    if language:
        return external_url("webence_privacy.request_page", token=token, lang=language)
    return external_url("webence_privacy.request_page", token=token)


# -- filing and verifying --------------------------------------------------------


def create_request(state: State, email: str, kind: str, details: str | None = None,
                   language: str | None = None, *, channel: str = WEB,
                   received_at: dt.datetime | None = None) -> Filed:
    """File a request (``email`` canonical) and mail the link.

    A request from the portal (``channel`` "web") goes on the clock when the
    visitor confirms; one the maintainer files (:func:`file_received`) from
    ``received_at``, so it is due the same number of days after it arrived.

    An open request of the same kind for the same address is not filed twice: its
    link is mailed again with a fresh token (the old link dies), at most once per
    ``RESEND_WINDOW``. The caller shows the same page whatever happened here.
    """
    if kind not in kinds():
        raise ValueError(f"unknown request kind {kind!r}")
    db, models = state.db, state.models
    DataRequest = models.DataRequest
    language = language or state.settings.default_language
    details = (details or "").strip()[:MAX_DETAILS] or None
    now = utcnow()
    existing = db.session.scalars(
        sa.select(DataRequest)
        .where(DataRequest.email == email, DataRequest.kind == kind,
               DataRequest.status.in_(OPEN))
        .order_by(DataRequest.id.desc())
    ).first()
    if existing is not None:
        recent = db.session.scalar(
            sa.select(sa.func.count()).select_from(models.Outbox).where(
                models.Outbox.subject_email == email,
                models.Outbox.kind.in_(("request-verify", "request-open")),
                models.Outbox.created_at >= now - RESEND_WINDOW,
            )
        )
        if recent:
            db.session.rollback()
            return Filed(existing)
    # Over a cap (this address's, or its mailbox's) nothing is mailed; what the
    # visitor sees stays the same.
    may_mail = channel != WEB or mail.within_daily_cap(
        state, "request-link", email, state.settings.request_max_link_mails)
    if existing is not None:
        if not may_mail:
            db.session.rollback()
            return Filed(existing)
        if existing.status == VERIFIED:
            # Its link is in use: a new one would kill it. The person is told
            # the request is under way (and anyone else learns nothing).
            row = mail.queue(
                state, kind="request-open", to=email, template="request_open",
                language=existing.language or language, subject_email=email,
                kind_label=kind_label(kind), req=existing, due=due(existing))
            db.session.commit()
            mail.dispatch(state, [row.id])
            return Filed(existing, row.id, False)
        request, created = existing, False
        if details and not request.details:
            request.details = details
    else:
        received = received_at or now
        request = DataRequest(email=email, email_hash=tokens.keyed_hash(email), kind=kind,
                              details=details, status=UNVERIFIED, language=language,
                              created_at=now, channel=channel, received_at=received,
                              due_at=None if channel == WEB else deadline_from(state, received))
        db.session.add(request)
        db.session.flush()  # the id goes into the token
        created = True
    if not may_mail:
        # Filed without a link: the next filing, once the cap allows, mails one.
        db.session.commit()
        emit(signals.request_created, request=request)
        return Filed(request, None, created)
    token, token_hash = make_token(request.id)
    request.token_hash = token_hash
    url = link(token, request.language or language)
    row = mail.queue(
        state, kind="request-verify", to=email, template="request_verify",
        language=request.language or language, subject_email=email, links=[url],
        url=url, kind_label=kind_label(kind), req=request,
        max_age_hours=state.settings.token_max_age // 3600,
    )
    db.session.commit()
    if created:
        emit(signals.request_created, request=request)
    mail.dispatch(state, [row.id])
    return Filed(request, row.id, created)


def file_received(state: State, email: str, kind: str, *, channel: str = "mail",
                  received: dt.date | None = None, details: str | None = None,
                  language: str | None = None) -> Filed:
    """File a request that arrived by mail, phone or letter: the admin's form and
    ``flask privacy request-add`` both call this.

    It goes on the clock from the day it was received (due
    ``PRIVACY_REQUEST_DEADLINE_DAYS`` later), is listed with its channel, and the
    person is mailed the same link as from the portal, which shows the address is
    theirs. Bad input raises :class:`FilingError` naming the field and the value;
    nothing is stored then.
    """
    try:
        canonical = address.canonical(email)
    except address.InvalidAddress as exc:
        raise FilingError("email", _("%(value)s: %(problem)s", value=repr((email or "").strip()),
                                     problem=str(exc))) from None
    if kind not in kinds():
        raise FilingError("kind", _("Unknown kind of request %(value)s; choose one of %(kinds)s.",
                                    value=repr(kind), kinds=", ".join(kinds())))
    if channel not in CHANNELS:
        raise FilingError("channel", _("Unknown channel %(value)s; choose one of %(channels)s.",
                                       value=repr(channel), channels=", ".join(CHANNELS)))
    today = utcnow().date()
    day = received or today
    if day > today:
        raise FilingError("received", _(
            "%(date)s is in the future; give the day the request was received.",
            date=day.isoformat()))
    if language not in (None, *state.settings.languages):
        raise FilingError("language", _("Unknown language %(value)s.", value=repr(language)))
    return create_request(state, canonical, kind, details, language, channel=channel,
                          received_at=dt.datetime.combine(day, dt.time.min))


def load(state: State, token: str) -> DataRequestRow:
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


def verify(state: State, token: str) -> DataRequestRow:
    """Mark the request verified (a POST): starts the clock and mails the maintainer.

    Idempotent: a second POST finds it verified and changes nothing.
    """
    request = load(state, token)
    if request.status == REJECTED:
        raise RequestError("closed")
    db, models = state.db, state.models
    now = utcnow()
    # A request the maintainer filed is on the clock since it was received.
    deadline = request.due_at or deadline_from(state, now)
    DataRequest = models.DataRequest
    result = db.session.execute(
        sa.update(DataRequest)
        .where(DataRequest.id == request.id, DataRequest.verified_at.is_(None))
        .values(verified_at=now, due_at=deadline, status=VERIFIED)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        db.session.rollback()
        return load(state, token)
    db.session.refresh(request)
    if request.kind in self_served():
        # The data is handed over on the page this verification opens (the
        # right's module says which: rights.Right.self_served).
        request.status, request.completed_at = COMPLETED, now
        request.resolution = SELF_SERVED_OUTCOME
    row = notify_maintainer(state, request, "request_verified")
    db.session.commit()
    emit(signals.request_verified, request=request)
    if request.status == COMPLETED:
        emit(signals.request_completed, request=request)
    mail.dispatch(state, [row.id])
    return request


def notify_maintainer(state: State, request: DataRequestRow, template: str,
                      **context: Any) -> mail.Queued:
    """Queue the maintainer's mail about ``request`` (the caller commits)."""
    admin_url = admin_link("admin_detail", request_id=request.id)
    return mail.queue(
        state, kind="request-notify", to=state.settings.notify_email,
        template=template, language=state.settings.default_language,
        subject_email=request.email, req=request, kind_label=kind_label(request.kind),
        admin_url=admin_url, due=due(request), **context,
    )


def claim(state: State, request: DataRequestRow) -> None:
    """Use the link for an act that changes data: once, even under concurrency.

    Runs inside the caller's transaction, so a rollback gives the link back.
    """
    if request.verified_at is None:
        raise RequestError("unverified")
    if request.status not in OPEN:
        raise RequestError("used")
    DataRequest = state.models.DataRequest
    result = state.db.session.execute(
        sa.update(DataRequest)
        .where(DataRequest.id == request.id, DataRequest.token_used_at.is_(None))
        .values(token_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        state.db.session.rollback()
        raise RequestError("used")


def mark_completed(request: DataRequestRow, resolution: str) -> None:
    """Close ``request`` as done (the caller commits)."""
    request.status = COMPLETED
    request.completed_at = utcnow()
    request.resolution = resolution


# -- the maintainer's side -------------------------------------------------------


def list_requests(state: State, *, overdue_only: bool = False, include_closed: bool = False,
                  now: dt.datetime | None = None) -> list[DataRequestRow]:
    """Confirmed open requests, overdue first, then by due date.

    Unconfirmed ones from the portal are left out unless ``include_closed``:
    nobody has shown the address is theirs yet, and the clock has not started
    (they may be spam). Those the maintainer filed are listed.
    """
    moment = now or utcnow()
    DataRequest = state.models.DataRequest
    query = sa.select(DataRequest)
    if not include_closed:
        # The maintainer filed the unconfirmed ones of other channels: real, and
        # already on the clock.
        query = query.where(sa.or_(
            DataRequest.status == VERIFIED,
            sa.and_(DataRequest.status == UNVERIFIED, DataRequest.channel != WEB)))
    rows = list(state.db.session.scalars(query))
    if overdue_only:
        rows = [r for r in rows if is_overdue(r, moment)]
    far = dt.datetime.max
    return sorted(rows, key=lambda r: (not is_overdue(r, moment), r.status not in OPEN,
                                       due(r) or far, r.id))


@dataclass
class Reminded:
    """What :func:`remind` mailed the maintainer about (nothing: no mail)."""

    soon: list[DataRequestRow]
    overdue: list[DataRequestRow]
    mail_id: int | None = None


def admin_link(endpoint: str, **values: Any) -> str | None:
    """An absolute link to the admin, or None where the site has no admin pages."""
    if f"webence_privacy.{endpoint}" not in current_app.view_functions:
        return None
    return external_url(f"webence_privacy.{endpoint}", **values)


def remind(state: State, now: dt.datetime | None = None) -> Reminded:
    """Mail the maintainer (``PRIVACY_NOTIFY_EMAIL``) the open requests that are due
    within :data:`REMIND_BEFORE` or overdue, each once per deadline and kind of
    reminder: cron may run this as often as it likes. An extension is a new
    deadline, so it is reminded of again."""
    moment = now or utcnow()
    soon: list[DataRequestRow] = []
    overdue: list[DataRequestRow] = []
    for request in list_requests(state, now=moment):
        deadline = due(request)
        if deadline is None:
            continue
        if deadline < moment:
            if request.overdue_reminded_for != deadline:
                request.overdue_reminded_for = deadline
                overdue.append(request)
        elif deadline - moment <= REMIND_BEFORE and request.soon_reminded_for != deadline:
            request.soon_reminded_for = deadline
            soon.append(request)
    if not soon and not overdue:
        state.db.session.rollback()
        return Reminded(soon, overdue)

    def entry(request: DataRequestRow) -> dict[str, Any]:
        deadline = due(request)
        return {"id": request.id, "kind_label": kind_label(request.kind),
                "channel": channel_label(request.channel),
                "due": deadline.date().isoformat() if deadline else "",
                "url": admin_link("admin_detail", request_id=request.id)}

    # No addresses in this mail: it lists several people and stays in the outbox.
    row = mail.queue(state, kind="request-reminder", to=state.settings.notify_email,
                     template="request_reminder", language=state.settings.default_language,
                     soon=[entry(r) for r in soon], overdue=[entry(r) for r in overdue],
                     admin_url=admin_link("admin_index"))
    state.db.session.commit()
    mail.dispatch(state, [row.id])
    return Reminded(soon, overdue, row.id)


def get(state: State, request_id: int) -> DataRequestRow | None:
    return state.db.session.get(state.models.DataRequest, request_id)


def complete(state: State, request: DataRequestRow, resolution: str | None = None) -> DataRequestRow:
    if request.status not in OPEN:
        raise RequestError("closed")
    mark_completed(request, (resolution or "").strip()[:MAX_DETAILS] or "completed by the maintainer")
    state.db.session.commit()
    emit(signals.request_completed, request=request)
    return request


def reject(state: State, request: DataRequestRow, reason: str) -> DataRequestRow:
    """Refuse a request with a reason; the requester is told why (art. 12(4))."""
    reason = (reason or "").strip()[:MAX_DETAILS]
    if not reason:
        raise ValueError("a rejection needs a reason")
    if request.status not in OPEN:
        raise RequestError("closed")
    request.status, request.completed_at, request.resolution = REJECTED, utcnow(), reason
    row = None
    if request.email:
        row = mail.queue(state, kind="request-rejected", to=request.email,
                         template="request_rejected", language=request.language or
                         state.settings.default_language, subject_email=request.email,
                         req=request, kind_label=kind_label(request.kind), reason=reason)
    state.db.session.commit()
    emit(signals.request_completed, request=request)
    if row is not None:
        mail.dispatch(state, [row.id])
    return request


def extend(state: State, request: DataRequestRow, reason: str, months: int = 2) -> DataRequestRow:
    """Extend the deadline (art. 12(3)) by up to two months, mailing the reason."""
    reason = (reason or "").strip()[:MAX_DETAILS]
    if not reason:
        raise ValueError("an extension needs a reason")
    if request.status != VERIFIED or request.due_at is None or request.email is None:
        raise RequestError("closed")
    if not 1 <= months <= 2:
        raise ValueError("an extension is one or two months")
    until = request.due_at + relativedelta(months=months)
    request.extended_until = min(until, request.due_at + MAX_EXTENSION)
    request.extension_reason = reason
    row = mail.queue(state, kind="request-extended", to=request.email,
                     template="request_extended",
                     language=request.language or state.settings.default_language,
                     subject_email=request.email, req=request,
                     kind_label=kind_label(request.kind), reason=reason,
                     until=request.extended_until)
    state.db.session.commit()
    mail.dispatch(state, [row.id])
    return request


# -- as a source of personal data, with its retention ------------------------------------


def _erase(rows: Select[tuple[object]]) -> int:
    """An erased subject's requests stay as proof they were answered, with only
    the keyed hash of the address: the address and the details go, the link dies."""
    state = get_state()
    DataRequest = state.models.DataRequest
    ids = rows.with_only_columns(DataRequest.id)
    result = state.db.session.execute(
        sa.update(DataRequest).where(DataRequest.id.in_(ids))
        .values(email=None, details=None, recipient=None, recipient_token_hash=None,
                token_used_at=sa.func.coalesce(DataRequest.token_used_at, utcnow()))
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _rules(source: Source, context: RuleContext) -> Iterator[Rule]:
    """Completed requests are proof they were answered in time: kept one proof
    period after completion. Unverified ones go after ``PRIVACY_OUTBOX_DAYS``;
    open ones are kept."""
    DataRequest = context.models.DataRequest
    proof = context.settings.proof_retention.cutoff(context.now)
    short = context.now - dt.timedelta(days=context.settings.outbox_days)
    subject = source.subject_key()
    yield Rule(source.table, source.name, "completed", proof,
               sa.and_(DataRequest.completed_at.is_not(None), DataRequest.completed_at < proof),
               subject)
    yield Rule(source.table, source.name, "unverified", short,
               sa.and_(DataRequest.status == UNVERIFIED, DataRequest.verified_at.is_(None),
                       DataRequest.completed_at.is_(None), DataRequest.created_at < short),
               subject)


def _period(settings: Settings) -> str:
    return _("%(proof)s after the request is completed; unconfirmed requests after %(short)s",
             proof=format_period(settings.proof_retention),
             short=format_days(settings.outbox_days))


def source(models: Models) -> Source:
    return make_source(
        models.DataRequest,
        label={"en": "Your privacy requests", "nl": "Uw privacyverzoeken"},
        purpose={"en": "Answering your requests under the GDPR",
                 "nl": "Uw verzoeken onder de AVG beantwoorden"},
        fields=("kind", "details", "status", "created_at", "verified_at", "due_at",
                "completed_at", "resolution"),
        erase=_erase,
        builtin=True,
        canonical_email=True,
        rules=_rules,
        period=_period,
        field_labels={"kind": _l("Request"), "details": _l("Details"),
                      "created_at": _l("Filed on"), "verified_at": _l("Confirmed on"),
                      "due_at": _l("Answer due by"), "completed_at": _l("Completed on"),
                      "resolution": _l("Outcome")},
        value_labels={"kind": request_kind, "status": request_status,
                      "due_at": date_only, "resolution": request_outcome},
    )
