"""How many mails of a kind one address may get a day."""

from __future__ import annotations

import functools
import logging

from flask import current_app
from limits import RateLimitItem, RateLimitItemPerDay

from ..net import limit_key_prefix
from ..state import State
from ..tokens import keyed_hash

log = logging.getLogger(__name__)


def within_daily_cap(state: State, kind: str, recipient: str, cap: int) -> bool:
    """Count one more mail of ``kind`` to ``recipient`` and say whether it stays
    within ``cap`` a day (the acknowledgement's cap: a form must not become a way
    to mail-bomb someone else's address).

    Counted in the rate limiter's storage, not by a query on the outbox: shared by
    every worker where limits are (``PRIVACY_RATELIMIT_STORAGE_URI``), and no
    statement on the request path. The key is a keyed hash of the address, so the
    storage never holds it. When the storage cannot be reached the mail is not
    queued: the cap protects someone else's inbox, the form's own record and the
    maintainer's mail do not depend on it.
    """
    prefix = limit_key_prefix(current_app)
    try:
        return bool(state.limiter.limiter.hit(
            _daily(cap), prefix, "mail-cap", kind, keyed_hash(recipient)))
    except Exception:  # noqa: BLE001 - the limiter's storage (Redis) is down
        log.warning("the daily cap of %r mails could not be counted (rate-limit storage "
                    "unreachable): this one is not queued", kind, exc_info=True)
        return False


@functools.lru_cache(maxsize=16)
def _daily(cap: int) -> RateLimitItem:
    return RateLimitItemPerDay(cap)
