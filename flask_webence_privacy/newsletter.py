"""The newsletter: double opt-in, RFC 8058 one-click opt-out, consent proof.

Plain functions over ``state`` and plain values, so the views, the CLI and the
host's own mailing code share one set of rules:

- ``subscribe`` records the consent and a pending subscription and mails a
  confirmation link; it behaves the same, from the outside, for every address
  (no enumeration) and caps the mails one address can receive.
- ``confirm`` and ``unsubscribe`` act on a signed link; confirmation is single
  use through a conditional UPDATE on the stored hash of its nonce.
- ``recipients`` and ``unsubscribe_headers`` serve the host's mailings.
- ``purge_pending`` is called by the retention purge.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import consent, labels, mail, signals, tokens
from .config import Settings, localize
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .language import speaking
from .links import external_url
from .models import Models, SubscriberRow, utcnow
from .policy import current_version, format_days, format_period
from .registry import Rule, RuleContext, Source, make_source, materialized
from .state import State

log = logging.getLogger(__name__)

LIST_NAME = "newsletter"
PURPOSE = "newsletter"
#: The ``form`` of the consent records: where the act happened.
FORM_SUBSCRIBE = "newsletter"
FORM_CONFIRM = "newsletter-confirm"
FORM_UNSUBSCRIBE = "newsletter-unsubscribe"
FORM_ONE_CLICK = "newsletter-one-click"

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"

#: Active subject marks that stop the newsletter: an objection (art. 21(3); the
#: portal records a marketing objection as its own kind too) or a restriction (art. 18).
MARKS_STOPPING_MAIL = ("objection", "objection-marketing", "restriction")
#: The cap on confirmation mails counts within this window (since the last one sent).
CAP_WINDOW = dt.timedelta(hours=24)
#: Length of the keyed address hash inside an unsubscribe token: enough that a
#: reused row id never unsubscribes someone else, short enough for a compact link.
ADDRESS_CHECK_LENGTH = 16


def consent_wording(state: State, language: str) -> str:
    """The consent box's label: exactly what is stored as the consent's wording."""
    configured = state.settings.newsletter.wording
    if configured:
        return localize(configured, language)

    def make() -> str:
        with speaking(language):
            return _(
                "Yes, send me the newsletter of %(name)s by e-mail. "
                "I can unsubscribe at any time.",
                name=state.settings.controller_name,
            )

    return state.caches.text(("newsletter-consent", language), make)


# -- subscribing -----------------------------------------------------------------


class Outcome(enum.Enum):
    """What happened; the visitor sees the same page for each (no enumeration)."""

    MAILED = "mailed"
    CAPPED = "capped"
    ALREADY_CONFIRMED = "already-confirmed"
    NOT_PENDING = "not-pending"


@dataclass
class Result:
    outcome: Outcome
    subscriber_id: int | None = None
    mail_id: int | None = None


def _find(state: State, email: str, list_name: str = LIST_NAME) -> SubscriberRow | None:
    Subscriber = state.models.Subscriber
    return state.db.session.scalar(
        sa.select(Subscriber)
        .where(Subscriber.list_name == list_name, Subscriber.email == email)
    )


def _may_mail(state: State, subscriber: SubscriberRow, now: dt.datetime) -> bool:
    """At most N confirmation mails per address within the window: nobody can
    flood someone else's inbox by typing their address again and again."""
    if subscriber.confirm_sent_at is None or now - subscriber.confirm_sent_at >= CAP_WINDOW:
        subscriber.confirm_mails = 0
    return (subscriber.confirm_mails or 0) < state.settings.newsletter.max_confirm_mails


def _queue_confirmation(state: State, subscriber: SubscriberRow, now: dt.datetime) -> mail.Queued:
    """A fresh link (the previous one dies: only the newest nonce's hash is kept)."""
    nonce = tokens.nonce()
    subscriber.confirm_token_hash = tokens.keyed_hash(nonce)
    subscriber.confirm_sent_at = now
    subscriber.confirm_mails = (subscriber.confirm_mails or 0) + 1
    state.db.session.flush()  # a new row needs its id for the token
    token = tokens.make("newsletter-confirm", {"s": subscriber.id, "n": nonce})
    url = external_url("webence_privacy.newsletter_confirm", token=token,
                       lang=subscriber.language or state.settings.default_language)
    return mail.queue(
        state,
        kind="newsletter-confirm",
        to=subscriber.email,
        subject_email=subscriber.email,
        template="newsletter_confirm",
        language=subscriber.language or state.settings.default_language,
        links=[url],
        confirm_url=url,
        hours=state.settings.newsletter.confirm_hours,
        controller_name=state.settings.controller_name,
    )


def subscribe(
    state: State,
    *,
    email: str,
    wording: str,
    language: str,
    age_confirmed: bool,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> Result:
    """Ask for a subscription of a validated, normalised ``email``.

    New, pending or unsubscribed: the consent is recorded (what the visitor saw
    and ticked) and a confirmation mail goes out unless the cap is reached. An
    address that is already confirmed gets nothing: no second mail, no change.
    """
    try:
        return _subscribe(state, email, wording, language, age_confirmed, ip, now or utcnow())
    except IntegrityError:
        # Two requests for a new address at once: the other one created the row.
        state.db.session.rollback()
        return _subscribe(state, email, wording, language, age_confirmed, ip, now or utcnow())


def _subscribe(state: State, email: str, wording: str, language: str, age_confirmed: bool,
               ip: str | None, now: dt.datetime) -> Result:
    db = state.db
    subscriber = _find(state, email)
    if subscriber is not None and subscriber.status == CONFIRMED and _confirmed_under_current(
        state, email
    ):
        return Result(Outcome.ALREADY_CONFIRMED, subscriber.id)
    # A subscriber who confirmed under an earlier policy version is asked again
    # the same way: a mailed link; the subscription itself runs on meanwhile.
    if subscriber is None:
        subscriber = state.models.Subscriber(
            list_name=LIST_NAME, email=email, status=PENDING, created_at=now, confirm_mails=0
        )
        db.session.add(subscriber)
    elif subscriber.status == UNSUBSCRIBED:
        # Asking again after an opt-out: pending until confirmed, never mailed before.
        subscriber.status = PENDING
        subscriber.unsubscribed_at = None
        subscriber.created_at = now  # the pending period (and its purge) starts now
    subscriber.language = language
    subscriber.policy_version = current_version(state.settings).version
    record = consent.give(
        state, email=email, purpose=PURPOSE, wording=wording, form=FORM_SUBSCRIBE,
        age_confirmed=age_confirmed, language=language, ip=ip,
    )
    row = None
    if _may_mail(state, subscriber, now) and mail.mailbox_allows(state, email):
        row = _queue_confirmation(state, subscriber, now)
    db.session.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.consent_given.send(app, record=record, email=email, purpose=PURPOSE)
    signals.subscribed.send(app, subscriber=subscriber)
    if row is None:
        log.info("newsletter confirmation mail capped for subscriber %s", subscriber.id)
        return Result(Outcome.CAPPED, subscriber.id)
    mail.dispatch(state, [row.id])
    return Result(Outcome.MAILED, subscriber.id, row.id)


def _confirmed_under_current(state: State, email: str) -> bool:
    Consent = state.models.ConsentRecord
    return bool(state.db.session.scalar(
        sa.select(sa.func.count()).select_from(Consent).where(
            Consent.email == email, Consent.purpose == PURPOSE, Consent.form == FORM_CONFIRM,
            Consent.action == consent.GIVEN,
            Consent.policy_version == current_version(state.settings).version)
    ))


def resend(state: State, *, email: str, now: dt.datetime | None = None) -> Result:
    """A new confirmation link for a pending address; nothing for any other."""
    now = now or utcnow()
    subscriber = _find(state, email)
    if subscriber is None or subscriber.status != PENDING:
        return Result(Outcome.NOT_PENDING)
    if not (_may_mail(state, subscriber, now) and mail.mailbox_allows(state, email)):
        state.db.session.commit()
        return Result(Outcome.CAPPED, subscriber.id)
    row = _queue_confirmation(state, subscriber, now)
    state.db.session.commit()
    mail.dispatch(state, [row.id])
    return Result(Outcome.MAILED, subscriber.id, row.id)


# -- confirming ------------------------------------------------------------------


class LinkError(Exception):
    """A mailed link that cannot be used. ``reason``: invalid | expired | used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _confirm_payload(state: State, token: str) -> tuple[int, str]:
    max_age = state.settings.newsletter.confirm_hours * 3600
    try:
        payload = tokens.load("newsletter-confirm", token, max_age=max_age)
    except tokens.TokenError as exc:
        raise LinkError(exc.reason) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int) \
            or not isinstance(payload.get("n"), str):
        raise LinkError("invalid")
    return payload["s"], payload["n"]


def check_confirm(state: State, token: str) -> SubscriberRow:
    """The pending subscriber a confirmation link belongs to (for the GET page)."""
    subscriber_id, nonce = _confirm_payload(state, token)
    subscriber = state.db.session.get(state.models.Subscriber, subscriber_id)
    if subscriber is None:
        raise LinkError("invalid")
    if subscriber.status not in (PENDING, CONFIRMED) or subscriber.confirm_token_hash is None \
            or subscriber.confirm_token_hash != tokens.keyed_hash(nonce):
        raise LinkError("used")
    return subscriber


def confirm(state: State, token: str, *, ip: str | None = None,
            now: dt.datetime | None = None) -> SubscriberRow:
    """Confirm the subscription of a valid, unused link; the confirmed subscriber.

    The conditional UPDATE is the single-use guarantee: of two concurrent POSTs
    with the same link, exactly one changes the row.
    """
    now = now or utcnow()
    subscriber_id, nonce = _confirm_payload(state, token)
    db, Subscriber = state.db, state.models.Subscriber
    result = db.session.execute(
        sa.update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.confirm_token_hash == tokens.keyed_hash(nonce),
            Subscriber.status.in_((PENDING, CONFIRMED)),  # confirmed: a re-ask
        )
        .values(status=CONFIRMED, confirmed_at=now, confirm_token_hash=None,
                confirm_mails=0)
        .execution_options(synchronize_session=False)
    )
    subscriber = db.session.get(Subscriber, subscriber_id)
    if getattr(result, "rowcount", 0) != 1 or subscriber is None:
        db.session.rollback()
        exists = db.session.get(Subscriber, subscriber_id) is not None
        raise LinkError("used" if exists else "invalid")
    db.session.refresh(subscriber)
    given = consent.latest(state, subscriber.email).get(PURPOSE)
    record = consent.give(
        state, email=subscriber.email, purpose=PURPOSE,
        wording=given.wording if given is not None else consent_wording(
            state, subscriber.language or state.settings.default_language),
        form=FORM_CONFIRM,
        age_confirmed=bool(given and given.age_confirmed),
        language=subscriber.language, ip=ip,
        policy_version=given.policy_version if given is not None else None,
    )
    language = subscriber.language or state.settings.default_language
    headers = unsubscribe_headers_for(state, subscriber)
    link = unsubscribe_url(state, subscriber)
    row = mail.queue(
        state, kind="newsletter-confirmed", to=subscriber.email,
        subject_email=subscriber.email, template="newsletter_confirmed", language=language,
        headers=headers, links=[link], unsubscribe_url=link,
        controller_name=state.settings.controller_name,
    )
    db.session.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.consent_given.send(app, record=record, email=subscriber.email, purpose=PURPOSE)
    signals.subscription_confirmed.send(app, subscriber=subscriber)
    mail.dispatch(state, [row.id])
    return subscriber


# -- opting out ------------------------------------------------------------------


def _address_check(email: str) -> str:
    return tokens.keyed_hash(email)[:ADDRESS_CHECK_LENGTH]


def unsubscribe_token(subscriber: SubscriberRow) -> str:
    """Long-lived and without a readable address: row id, list and a keyed check
    of the address (so a reused id, a changed or erased address kills the link)."""
    return tokens.make(
        "newsletter-unsubscribe",
        {"s": subscriber.id, "l": subscriber.list_name, "h": _address_check(subscriber.email)},
    )


def unsubscribe_url(state: State, subscriber: SubscriberRow) -> str:
    return external_url("webence_privacy.newsletter_unsubscribe", token=unsubscribe_token(subscriber))


def check_unsubscribe(state: State, token: str) -> SubscriberRow:
    """The subscriber of an unsubscribe link; LinkError("invalid") otherwise.

    No expiry: an opt-out link in a mail from years ago must still work.
    """
    try:
        payload = tokens.load("newsletter-unsubscribe", token)
    except tokens.TokenError:
        raise LinkError("invalid") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise LinkError("invalid")
    subscriber = state.db.session.get(state.models.Subscriber, payload["s"])
    if (
        subscriber is None
        or subscriber.list_name != payload.get("l")
        or _address_check(subscriber.email) != payload.get("h")
    ):
        raise LinkError("invalid")
    return subscriber


def unsubscribe(state: State, token: str, *, one_click: bool = False,
                now: dt.datetime | None = None) -> SubscriberRow:
    """Opt out; doing it twice is fine. Returns the subscriber.

    What stays is what honours the opt-out: the address, the list, the status
    and when. Language, policy version and any pending link are cleared.
    """
    now = now or utcnow()
    subscriber = check_unsubscribe(state, token)
    db, Subscriber = state.db, state.models.Subscriber
    result = db.session.execute(
        sa.update(Subscriber)
        .where(Subscriber.id == subscriber.id, Subscriber.status != UNSUBSCRIBED)
        .values(status=UNSUBSCRIBED, unsubscribed_at=now, confirmed_at=None, language=None,
                policy_version=None, confirm_token_hash=None, confirm_sent_at=None,
                confirm_mails=0)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        db.session.rollback()
        return subscriber  # already unsubscribed: the answer is the same
    given = consent.latest(state, subscriber.email).get(PURPOSE)
    language = subscriber.language
    record = consent.withdraw(
        state, email=subscriber.email, purpose=PURPOSE,
        wording=given.wording if given is not None else "",
        form=FORM_ONE_CLICK if one_click else FORM_UNSUBSCRIBE,
        language=language,
        policy_version=given.policy_version if given is not None else None,
    )
    db.session.commit()
    db.session.refresh(subscriber)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.consent_withdrawn.send(app, record=record, email=subscriber.email, purpose=PURPOSE)
    signals.unsubscribed.send(app, subscriber=subscriber, one_click=one_click)
    return subscriber


# -- the host's mailings ---------------------------------------------------------


def _marked(state: State) -> sa.Select[str]:
    """Addresses that objected to marketing (art. 21(3)) or restricted processing
    (art. 18): no newsletter goes to them while the mark is active."""
    Mark = state.models.SubjectMark
    return (
        sa.select(Mark.email)
        .where(Mark.kind.in_(MARKS_STOPPING_MAIL), Mark.lifted_at.is_(None))
    )


def recipients(state: State, require_current_consent: bool = False) -> list[str]:
    """Confirmed, not unsubscribed, not objecting addresses, in subscription order.

    With ``require_current_consent`` only those whose newest newsletter consent
    was given under the current policy version: the others can be asked again.
    """
    db, Subscriber = state.db, state.models.Subscriber
    query = (
        sa.select(Subscriber.email)
        .where(Subscriber.list_name == LIST_NAME, Subscriber.status == CONFIRMED)
        .where(Subscriber.email.not_in(_marked(state)))
        .order_by(Subscriber.id)
    )
    if require_current_consent:
        Consent = state.models.ConsentRecord
        # Confirmed (through the mailed link) under the current version.
        current = sa.select(Consent.email).where(
            Consent.purpose == PURPOSE, Consent.form == FORM_CONFIRM,
            Consent.action == consent.GIVEN,
            Consent.policy_version == current_version(state.settings).version,
        )
        query = query.where(Subscriber.email.in_(current))
    return list(db.session.scalars(query))


def unsubscribe_headers_for(state: State, subscriber: SubscriberRow) -> dict[str, str]:
    links = [f"<{unsubscribe_url(state, subscriber)}>"]
    mailto = state.settings.newsletter.unsubscribe_mailto
    if mailto:
        links.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(links),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def unsubscribe_headers(state: State, email: str) -> dict[str, str]:
    """RFC 2369/8058 headers for one recipient of the host's newsletter.

    Needs a request context or ``SERVER_NAME`` (the link is absolute, https where
    ``PREFERRED_URL_SCHEME`` says so). Raises LookupError for an address that is
    not on the list.
    """
    subscriber = _find(state, email)
    if subscriber is None:
        raise LookupError("no newsletter subscription for this address")
    return unsubscribe_headers_for(state, subscriber)


# -- as a source of personal data, with its retention ------------------------------------


def _rules(source: Source, context: RuleContext) -> Iterator[Rule]:
    """Unconfirmed sign-ups go after ``PRIVACY_NEWSLETTER_PENDING_DAYS``, and with
    them the consent records and confirmation mails of an address that never
    confirmed: an address typed in by anyone must not stay for a year. (Those
    two rules select by the pending row, so they run before it goes.)
    Unsubscribed rows keep what honours the opt-out for one proof period;
    confirmed ones are kept while the subscription runs."""
    models, settings, now = context.models, context.settings, context.now
    Subscriber, Consent, Outbox = models.Subscriber, models.ConsentRecord, models.Outbox
    pending_cutoff = now - dt.timedelta(days=settings.newsletter.pending_days)
    stale = sa.and_(Subscriber.status == PENDING, Subscriber.created_at < pending_cutoff)
    stale_emails = sa.select(Subscriber.email).where(stale)
    confirmed_once = materialized(sa.select(Consent.email).where(
        Consent.purpose == PURPOSE, Consent.form == FORM_CONFIRM), "confirmed_once")
    label = "unconfirmed sign-up"
    yield Rule(Consent.__table__, "ConsentRecord", label, pending_cutoff,
               sa.and_(Consent.purpose == PURPOSE, Consent.email.in_(stale_emails),
                       Consent.email.not_in(confirmed_once)), Consent.__table__.c.email)
    yield Rule(Outbox.__table__, "Outbox", label, pending_cutoff,
               sa.and_(Outbox.kind == "newsletter-confirm",
                       Outbox.subject_email.in_(stale_emails),
                       Outbox.status.in_(("sent", "failed"))), Outbox.__table__.c.subject_email)
    yield Rule(source.table, source.name, "pending", pending_cutoff, stale, source.subject_key())
    proof_cutoff = settings.proof_retention.cutoff(now)
    yield Rule(source.table, source.name, "unsubscribed", proof_cutoff,
               sa.and_(Subscriber.status == UNSUBSCRIBED, Subscriber.unsubscribed_at < proof_cutoff),
               source.subject_key())


def _period(settings: Settings) -> str:
    return _("while you are subscribed; %(proof)s after you unsubscribe; "
             "unconfirmed sign-ups after %(pending)s",
             proof=format_period(settings.proof_retention),
             pending=format_days(settings.newsletter.pending_days))


def source(models: Models) -> Source:
    return make_source(
        models.Subscriber,
        label={"en": "Newsletter subscription", "nl": "Nieuwsbriefinschrijving"},
        purpose={"en": "Sending the newsletter you asked for",
                 "nl": "De nieuwsbrief sturen waarvoor u zich aanmeldde"},
        fields=("list_name", "email", "status", "language", "policy_version",
                "created_at", "confirmed_at", "unsubscribed_at"),
        builtin=True,
        canonical_email=True,
        rules=_rules,
        period=_period,
        field_labels={"list_name": _l("List"), "created_at": _l("Signed up on"),
                      "confirmed_at": _l("Confirmed on"), "unsubscribed_at": _l("Unsubscribed on")},
        value_labels={"list_name": labels.LIST_NAMES, "status": labels.SUBSCRIBER_STATUSES},
    )
