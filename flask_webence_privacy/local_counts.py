"""Counts kept in this process while the rate limiter's storage is unreachable.

The limiter itself falls back to memory through Flask-Limiter's own option
(:func:`.setup.setup_limiter`); the package's own counters (the daily mail caps,
:mod:`.mail.caps`) count in the limiter's storage too and fall back here, so a
Redis outage neither fails a form after its rows are written nor lifts a cap:
each process counts on its own until the storage answers again.
"""

from __future__ import annotations

import logging
import threading

from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

log = logging.getLogger("flask_webence_privacy")


class LocalCounts:
    """A per-process limiter, and whether the shared storage was last found down
    (so an outage is logged once, and its end once)."""

    def __init__(self) -> None:
        # Held here: limits before 3.4 keeps only a weak reference to its storage,
        # so a storage nobody else holds is gone before the first count.
        self.storage = MemoryStorage()
        self.limiter: RateLimiter = FixedWindowRateLimiter(self.storage)
        self.down = False
        self._lock = threading.Lock()

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count in this process's memory; the first time after the storage
        answered, say so in the log."""
        with self._lock:
            first, self.down = not self.down, True
        if first:
            log.warning("the rate-limit storage cannot be reached: the daily mail caps count "
                        "in this process until it answers again", exc_info=True)
        return bool(self.limiter.hit(item, *identifiers))

    def answered(self) -> None:
        """The shared storage answered again: log the end of an outage once."""
        if self.down:
            with self._lock:
                was, self.down = self.down, False
            if was:
                log.warning("the rate-limit storage answers again: the daily mail caps count "
                            "there again")
