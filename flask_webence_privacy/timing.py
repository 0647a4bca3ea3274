"""Answers that take as long whatever the address (no enumeration by the clock).

Mail already leaves after the response, so the big difference is gone; what is
left is the database's own work: a new address writes a few rows and a mail to
the outbox, a confirmed one or one with an open request writes less. Every
answer of an enumeration-sensitive form (newsletter, resend, request, contact)
waits until a floor: the form's :data:`FLOOR`, or the 95th percentile of its
recent full answers where that is higher. Known and unknown addresses then take
the same time but for the slowest twentieth of full answers, and a fresh worker
pads to the same constant as one that has run for days (a median, learnt per
worker, let a full answer stand out half the time and was empty after a restart).
"""

from __future__ import annotations

import threading
import time
from collections import deque

#: How many recent full answers the percentile is taken over.
WINDOW = 64
#: The share of full answers every answer waits for.
PERCENTILE = 0.95
#: Seconds every answer of such a form takes at least: above a full answer on a
#: healthy server (3-15 ms on PostgreSQL or SQLite, bench/enumeration.py), so
#: the floor is this constant in every worker from its first request.
FLOOR = 0.04
#: The longest wait the floor may add: a database that slows down for a while
#: must not hold every answer for seconds.
MAX_WAIT = 0.5


class AnswerFloor:
    """The time every answer of one form waits for."""

    def __init__(self, floor: float = FLOOR) -> None:
        self.floor = floor
        self.samples: deque[float] = deque(maxlen=WINDOW)
        self.lock = threading.Lock()

    def target(self) -> float:
        """:attr:`floor`, or the :data:`PERCENTILE` of recent full answers if higher."""
        with self.lock:
            ordered = sorted(self.samples)
        if not ordered:
            return self.floor
        high = ordered[min(len(ordered) - 1, int(PERCENTILE * len(ordered)))]
        return max(self.floor, high)

    def settle(self, started: float, full: bool) -> None:
        """Call when the form's work is done: a full answer teaches the floor;
        every answer, full or not, waits for it."""
        elapsed = time.perf_counter() - started
        if full:
            with self.lock:
                self.samples.append(elapsed)
        target = self.target()
        if target > elapsed:
            time.sleep(min(target - elapsed, MAX_WAIT))
