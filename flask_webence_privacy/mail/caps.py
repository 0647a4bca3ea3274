"""How many mails visitors' posts may send to one address, and to one mailbox.

Two ceilings a day: one per kind of mail and address (an acknowledgement, a
request's link), and one per mailbox over every kind together
(``PRIVACY_MAILBOX_DAILY_LIMIT``), so nobody can use the forms to bomb someone
else's inbox, however the address is spelt (``+tags``, case, IDN) and from
however many IPs. The site's own addresses are never capped: the owner must
see every message; a flood of those shows as the last hour's count
(:func:`recent_notifications`, in ``flask privacy check`` and the admin).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

import sqlalchemy as sa
from flask import current_app
from limits import RateLimitItem, RateLimitItemPerDay

from ..address import lookup_key, mailbox
from ..models import utcnow
from ..net import limit_key_prefix
from ..state import State
from ..tokens import keyed_hash

log = logging.getLogger(__name__)

#: The mails that tell the maintainer about a visitor's post: one per post, never
#: capped, counted for :func:`recent_notifications`.
NOTIFY_KINDS = ("contact-notify", "request-notify", "objection-marketing", "breach-report")
#: The window of :func:`recent_notifications`.
NOTIFY_WINDOW = dt.timedelta(hours=1)


def within_daily_cap(state: State, kind: str, recipient: str, cap: int) -> bool:
    """Count one more mail of ``kind`` to ``recipient`` and say whether it stays
    within ``cap`` a day for that kind and within the mailbox's daily ceiling
    (:func:`mailbox_allows`). Call before the mail is queued; a refused mail is
    simply not written, and the visitor sees the answer they always see.

    Counted in the rate limiter's storage, not by a query on the outbox: shared by
    every worker where limits are (``PRIVACY_RATELIMIT_STORAGE_URI``), and no
    statement on the request path. Keys are keyed hashes of the address, so the
    storage never holds one.
    """
    return (_hit(state, _daily(cap), "mail-cap", kind, keyed_hash(lookup_key(recipient)))
            and mailbox_allows(state, recipient))


def mailbox_allows(state: State, recipient: str) -> bool:
    """Count one more visitor-triggered mail to ``recipient``'s mailbox (the
    address without its ``+tag``) and say whether it stays within
    ``PRIVACY_MAILBOX_DAILY_LIMIT``; the site's own addresses always may."""
    settings = state.settings
    key = lookup_key(recipient)
    if key in (lookup_key(settings.contact_email), lookup_key(settings.notify_email)):
        return True
    return _hit(state, _daily(settings.mailbox_daily_limit), "mailbox",
                keyed_hash(mailbox(key)))


def _hit(state: State, item: RateLimitItem, *identifiers: str) -> bool:
    """One hit in the limiter's storage; where it cannot be reached, in this
    process's memory (:class:`..local_counts.LocalCounts`). Never raises: this
    runs inside a form's transaction, and an outage of the storage must neither
    fail the post nor lift the cap."""
    prefix = limit_key_prefix(current_app)
    try:
        allowed = bool(state.limiter.limiter.hit(item, prefix, *identifiers))
    except Exception:  # noqa: BLE001 - the limiter's storage (Redis) is down
        return state.local_counts.hit(item, prefix, *identifiers)
    state.local_counts.answered()
    return allowed


def recent_notifications(state: State, now: dt.datetime | None = None) -> int:
    """How many maintainer notifications visitors' posts wrote in the last hour."""
    Outbox = state.models.Outbox
    since = (now or utcnow()) - NOTIFY_WINDOW
    return state.db.session.scalar(
        sa.select(sa.func.count()).select_from(Outbox)
        .where(Outbox.kind.in_(NOTIFY_KINDS), Outbox.created_at >= since)) or 0


@functools.lru_cache(maxsize=16)
def _daily(cap: int) -> RateLimitItem:
    return RateLimitItemPerDay(cap)
