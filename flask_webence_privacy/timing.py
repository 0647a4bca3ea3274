"""Answers that take as long whatever the address (no enumeration by the clock).

Mail already leaves after the response, so the big difference is gone; what is
left is the database's own work: a new address writes a few rows and a mail to
the outbox, a confirmed one or one with an open request writes less. Each
enumeration-sensitive form keeps the recent durations of its full answers and
lets a shorter answer wait until it reaches their median.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque

#: How many recent full answers set the floor, and the longest wait it may add.
WINDOW = 64
MAX_WAIT = 0.5


class AnswerFloor:
    """The median time of a form's full answers, for its shorter ones to wait for."""

    def __init__(self) -> None:
        self.samples: deque[float] = deque(maxlen=WINDOW)
        self.lock = threading.Lock()

    def settle(self, started: float, full: bool) -> None:
        """Call when the form's work is done: a full answer teaches the floor, a
        shorter one waits for it."""
        elapsed = time.perf_counter() - started
        if full:
            with self.lock:
                self.samples.append(elapsed)
            return
        with self.lock:
            target = statistics.median(self.samples) if self.samples else 0.0
        if target > elapsed:
            time.sleep(min(target - elapsed, MAX_WAIT))
