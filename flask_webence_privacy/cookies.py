"""Cookie choices, proven on the server.

``PRIVACY_COOKIES`` lists each cookie with a type: ``functional`` cookies are
always on; ``analytic`` and ``marketing`` ones wait for the visitor's yes. Each
answer is a consent record of the browser's random id per type (purpose
``cookies:<type>``) in the append-only ledger of :mod:`.consent`, with the
wording shown, the policy version, the time and the truncated IP: the proof.
The visitor's browser keeps one functional cookie, signed, holding that id and
the answer the records say (the policy version, the types said yes to, the
types answered), written in the same request as the records: a page reads the
choice from it and never the ledger (a returning visitor's page asks the
database nothing). A forged or tampered cookie counts as no choice.

A choice under an earlier policy version does not count: the banner asks again.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from sqlalchemy.exc import DBAPIError
from werkzeug.wrappers import Response

from . import consent, signals
from .config import COOKIE_TYPES, Settings, localize
from .i18n import gettext as _
from .language import current_language
from .models import ConsentRecordRow
from .net import stored_ip
from .policy import current_version, format_days, format_period
from .registry import Rule, RuleContext
from .state import State, get_state
from .tokens import TokenError, load_timed, make

#: The functional cookie that holds the signed choice id and answer (list it on the privacy page).
CHOICE_COOKIE = "privacy_choice"
#: How long a choice lasts: then the cookie is gone and the banner asks again.
CHOICE_MAX_AGE = 365 * 24 * 3600
#: The ledger's purpose of a cookie type, and its "address": the browser's id.
PURPOSE_PREFIX = "cookies:"
SUBJECT_PREFIX = "cookie:"
#: Where a choice was made (the ledger's ``form``).
BANNER_FORM = "cookie-banner"
SETTINGS_FORM = "cookie-settings"
_CACHE = "_webence_privacy_cookie_choice"

log = logging.getLogger(__name__)

__all__ = ["COOKIE_TYPES", "CHOICE_COOKIE", "Choice", "consented", "current_choice", "save"]


def optional_types(settings: Settings) -> tuple[str, ...]:
    """The site's cookie types that need a yes, in a fixed order."""
    present = {c.type for c in settings.cookies}
    return tuple(t for t in COOKIE_TYPES if t != "functional" and t in present)


def type_label(kind: str) -> str:
    return {"functional": _("Functional cookies"), "analytic": _("Analytic cookies"),
            "marketing": _("Marketing cookies")}.get(kind, kind)


def cookies_of(settings: Settings, kind: str, language: str) -> list[dict[str, str]]:
    """The cookies of one type, as the privacy page lists them."""
    return [{"name": c.name, "purpose": localize(c.purpose, language),
             "duration": localize(c.duration, language)}
            for c in settings.cookies if c.type == kind]


def statement(settings: Settings, kind: str, language: str) -> str:
    """What the visitor is asked to say yes to for one type: shown next to its
    box and its button, and stored word for word as the consent's wording."""
    purposes = "; ".join(c["purpose"] for c in cookies_of(settings, kind, language))
    return f"{type_label(kind)}: {purposes}"


def subject(choice_id: str) -> str:
    return SUBJECT_PREFIX + choice_id


def _cookie() -> Any:
    """What the visitor's choice cookie holds, if its signature holds and it is
    younger than :data:`CHOICE_MAX_AGE`; else None. The signature of a value once
    accepted is not checked again (:meth:`.caches.Caches.checked_choice`); its age is,
    every time."""
    if not has_request_context():
        return None
    sent = request.cookies
    # A membership test first: MultiDict.get raises (and catches) an HTTP error
    # for a missing key, and most pages come without this cookie.
    value = sent[CHOICE_COOKIE] if CHOICE_COOKIE in sent else None  # noqa: SIM401
    if not value:
        return None
    try:
        held, signed = get_state().caches.checked_choice(value, _check_signature)
    except TokenError:
        return None
    return held if time.time() - signed <= CHOICE_MAX_AGE else None


def _check_signature(value: str) -> tuple[Any, float]:
    """What a choice cookie holds and when it was signed; TokenError if forged."""
    return load_timed("cookie-choice", value, max_age=CHOICE_MAX_AGE)


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and 16 <= len(value) <= 64 else None


def choice_id() -> str | None:
    """The id in the visitor's choice cookie, if its signature holds."""
    held = _cookie()
    # [id, version, yes, answered]; a cookie set before the answer was carried
    # in it holds the id alone.
    return _id(held[0] if isinstance(held, list) and held else held)


@dataclass(frozen=True)
class Choice:
    """A browser's current choice: the types it said yes to under the current
    policy version, and whether every optional type has been answered under it."""

    id: str
    given: frozenset[str]
    complete: bool


def _carried(settings: Settings, held: list[Any]) -> Choice | None:
    """The choice a cookie carries: what :func:`save` recorded, under the policy
    version it names (under an earlier one nothing counts and the banner asks)."""
    if len(held) != 4:
        return None
    cid, version, given, answered = held
    if _id(cid) is None or not isinstance(given, list) or not isinstance(answered, list):
        return None
    if version != current_version(settings).version:
        return Choice(cid, frozenset(), False)
    kinds = optional_types(settings)
    return Choice(cid, frozenset(given) & frozenset(kinds), all(k in answered for k in kinds))


def _read(state: State, cid: str) -> Choice | None:
    version = current_version(state.settings).version
    records = {purpose.removeprefix(PURPOSE_PREFIX): record
               for purpose, record in consent.latest(state, subject(cid)).items()
               if purpose.startswith(PURPOSE_PREFIX)}
    if not records:
        return None
    current = {kind: r for kind, r in records.items() if r.policy_version == version}
    given = frozenset(k for k, r in current.items() if r.action == consent.GIVEN)
    complete = all(kind in current for kind in optional_types(state.settings))
    return Choice(cid, given, complete)


def current_choice(state: State | None = None) -> Choice | None:
    """The visitor's choice (once per request), or None without a valid cookie or
    any record of it."""
    state = state or get_state()
    if has_request_context() and _CACHE in g.__dict__:
        cached: Choice | None = g.__dict__[_CACHE]
        return cached
    held = _cookie()
    found = (_carried(state.settings, held) if isinstance(held, list)
             else _ledger_choice(state, _id(held)))
    if has_request_context():
        g.__dict__[_CACHE] = found
    return found


def _ledger_choice(state: State, cid: str | None) -> Choice | None:
    """The choice of a cookie from before the answer was carried in it (the id
    alone): the ledger says."""
    if cid is None:
        return None
    try:
        return _read(state, cid)
    except DBAPIError as exc:
        # A page must not fail because the ledger cannot be read: then no
        # optional cookie (the safe side) and the banner asks again.
        state.db.session.rollback()
        log.warning("cookie choice: could not be read (%s)", type(exc).__name__)
        return None


def consented(kind: str, state: State | None = None) -> bool:
    """True when the visitor said yes to ``kind`` under the current policy;
    ``functional`` always."""
    if kind == "functional":
        return True
    if kind not in COOKIE_TYPES:
        return False
    found = current_choice(state)
    return found is not None and kind in found.given


def gpc_signal() -> bool:
    """Global Privacy Control: the browser sends ``Sec-GPC: 1``, a standing
    objection by automated means (GDPR art. 21(5)). For a visitor who has not
    chosen, it is their "no" to every optional type: :func:`consented` says no
    (as it does without a choice) and the banner does not ask. An explicit choice
    on the settings page wins. Nothing is written for the signal."""
    return has_request_context() and request.environ.get("HTTP_SEC_GPC", "").strip() == "1"


def needs_asking(state: State | None = None) -> bool:
    """The banner's rule: the site has optional cookies and this browser has not
    answered for each of them under the current policy version, nor said no
    already through Global Privacy Control."""
    state = state or get_state()
    if not optional_types(state.settings):
        return False
    found = current_choice(state)
    if found is None:
        return not gpc_signal()
    return not found.complete


def save(state: State, wanted: Iterable[str], form: str) -> tuple[str, Choice]:
    """Record the visitor's answer for every optional type (yes for those in
    ``wanted``, no for the rest; unknown names are ignored) and return the signed
    cookie value to set with the new choice. One transaction; the signal after."""
    settings = state.settings
    kinds = optional_types(settings)
    chosen = frozenset(wanted) & frozenset(kinds)
    cid = choice_id() or secrets.token_urlsafe(24)
    language = current_language()
    version = current_version(settings).version
    ip = stored_ip(settings)
    records: list[ConsentRecordRow] = []
    for kind in kinds:
        act = consent.give if kind in chosen else consent.withdraw
        records.append(act(state, email=subject(cid), purpose=PURPOSE_PREFIX + kind,
                           wording=statement(settings, kind, language), form=form,
                           policy_version=version, language=language, ip=ip))
    state.db.session.commit()
    found = Choice(cid, chosen, True)
    if has_request_context():
        g.__dict__[_CACHE] = found
    signals.cookie_choice_changed.send(current_app._get_current_object(),  # type: ignore[attr-defined]
                                       choice_id=cid, given=chosen, records=records)
    # The cookie carries what the records say, so no page needs to read them.
    return make("cookie-choice", [cid, version, sorted(chosen), list(kinds)]), found


def apply(response: Response, token: str, found: Choice, settings: Settings) -> None:
    """Set the choice cookie, and delete the site's listed cookies of every type
    the visitor did not say yes to (a withdrawal takes effect at once)."""
    response.set_cookie(CHOICE_COOKIE, token, max_age=CHOICE_MAX_AGE, httponly=True,
                        samesite="Lax", secure=request.is_secure)
    for cookie in settings.cookies:
        if cookie.type != "functional" and cookie.type not in found.given \
                and cookie.name in request.cookies:
            response.delete_cookie(cookie.name)


def browser_records(state: State) -> list[ConsentRecordRow]:
    """Every ledger record of this browser's cookie choices, oldest first (for the
    request portal's access and withdraw pages)."""
    cid = choice_id()
    if cid is None:
        return []
    Consent = state.models.ConsentRecord
    return list(state.db.session.scalars(
        sa.select(Consent).where(Consent.email == subject(cid)).order_by(Consent.id)))


#: A choice lapses with its cookie (a year from the last save, which records every type).
CHOICE_LIFETIME = dt.timedelta(seconds=CHOICE_MAX_AGE)


def rules(context: RuleContext) -> Iterator[Rule]:
    """Bounded proof (django-cookie-consent #28 grew without end): a record goes
    once its choice has lapsed (:data:`CHOICE_LIFETIME`) and the proof period has
    passed after that. A no, and a yes changed to no, go sooner, by the ledger's
    own rule (a proof period after the withdrawal); :func:`period` says both."""
    Consent = context.models.ConsentRecord
    cutoff = context.settings.proof_retention.cutoff(context.now - CHOICE_LIFETIME)
    yield Rule(Consent.__table__, "CookieChoice", context.settings.proof_retention.name, cutoff,
               sa.and_(Consent.purpose.like(PURPOSE_PREFIX + "%"), Consent.created_at < cutoff))


def period(settings: Settings) -> str:
    """How long the records of cookie choices are kept, as the pages say it: the
    lapse of :func:`rules` and the ledger's proof period after a withdrawal."""
    proof = format_period(settings.proof_retention)
    return _("a yes: %(lifetime)s while it applies and %(proof)s after that, or %(proof)s "
             "after you change it to no; a no: %(proof)s",
             lifetime=format_days(CHOICE_LIFETIME.days), proof=proof)
