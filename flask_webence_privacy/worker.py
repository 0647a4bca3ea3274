"""One background worker per process and job: the pattern the mail sender and the
visit writer share.

A request hands items over (outbox ids, page views) and answers; a thread of
this process hands them to the job in batches, inside the app's context. The
thread starts with the first item and ends after :data:`IDLE` seconds without
work; in a forked process (gunicorn forks its workers) it starts afresh, and
what the parent held stays the parent's. At exit (gunicorn's graceful stop,
SIGTERM) what is waiting is handled first. A job runs one batch at a time,
whoever runs it (the thread, :meth:`Worker.flush`, :meth:`Worker.drain`).

Where the database hands every thread the same connection (SQLite in memory
under Flask-SQLAlchemy, a ``StaticPool``; or one connection per thread, which
for an in-memory database is another, empty, database), a thread of our own
would use it at the same time as a request, or not see the request's tables:
there the job runs in the thread that hands the items over, after its answer is
made, one batch at a time.

Each app's workers live on its state (``app.extensions``), made by the feature
that owns the job.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.pool import SingletonThreadPool, StaticPool

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds without work before a worker's thread ends (the next item starts one).
IDLE = 5.0

#: Taken while a worker starts over in a forked process, so two threads of the
#: child never both do.
_fork_lock = threading.Lock()


def one_connection(db: SQLAlchemy) -> bool:
    """Whether an engine of ``db`` cannot give a thread of its own a connection
    of its own to the same database (a ``StaticPool`` or ``SingletonThreadPool``:
    SQLite in memory)."""
    return any(isinstance(engine.pool, (StaticPool, SingletonThreadPool))
               for engine in db.engines.values())


class Worker(Generic[T]):
    """A job's items of one app in this process, and the thread that handles them.

    ``job`` is called in an app context with a batch and returns how many it
    handled. ``delay`` is how long an item may wait to be handled with others
    (0: at once), unless ``batch`` are waiting; ``limit`` bounds what waits (more
    is dropped and counted in a warning, ``dropped`` with its ``%d``).
    ``inline`` says, once, whether the job must run in the caller's thread
    (:func:`one_connection`).
    """

    def __init__(self, app: Flask, name: str, job: Callable[[list[T]], int], *,
                 delay: float = 0.0, batch: int = 500, limit: int | None = None,
                 dropped: str = "%d items dropped", idle: float = IDLE,
                 inline: Callable[[], bool] = lambda: False) -> None:
        self.app, self.name, self.job = app, name, job
        self.delay, self.batch, self.limit, self.idle = delay, batch, limit, idle
        self.dropped_message = dropped
        self._inline_check: Callable[[], bool] | None = inline
        self.inline = False
        self._start()
        # A weak reference: an app a test made and dropped is not kept for exit.
        atexit.register(_drain_at_exit, weakref.ref(self))

    def _start(self) -> None:
        """The process-local part: made here, and again in a forked process."""
        self.pid = os.getpid()
        self.lock = threading.Lock()
        #: Held while a batch is handled: one at a time, whoever handles it.
        self.busy = threading.Lock()
        self.wake = threading.Event()
        self.done = threading.Condition()
        self.thread: threading.Thread | None = None
        self.waiting: list[T] = []
        self.dropped = 0
        #: Items taken and not yet handled (or given up on), for :meth:`drain`.
        self.unfinished = 0

    def _this_process(self) -> None:
        if self.pid != os.getpid():
            with _fork_lock:
                if self.pid != os.getpid():
                    self._start()

    def submit(self, items: Sequence[T]) -> None:
        """Take ``items`` to be handled after the caller's answer."""
        if not items:
            return
        self._this_process()
        if self._inline_check is not None:
            self.inline, self._inline_check = self._inline_check(), None
        if self.inline:
            with self.busy:
                self._run(list(items))
            return
        with self.lock:
            room = len(items) if self.limit is None else max(self.limit - len(self.waiting), 0)
            taken = list(items[:room])
            self.dropped += len(items) - len(taken)
            self.waiting += taken
            with self.done:
                self.unfinished += len(taken)
            if self.delay <= 0 or len(self.waiting) >= self.batch:
                self.wake.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        quiet = 0.0
        pause = self.delay if self.delay > 0 else self.idle
        while True:
            self.wake.wait(pause)
            self.wake.clear()
            if self._handle_waiting() is not None:
                quiet = 0.0
                continue
            quiet += pause
            with self.lock:
                if quiet >= self.idle and not self.waiting:
                    self.thread = None
                    return

    def _handle_waiting(self) -> int | None:
        """Handle what is waiting: how many the job handled; None if nothing was."""
        with self.busy:
            return self._handle_waiting_now()

    def _handle_waiting_now(self) -> int | None:
        """:meth:`_handle_waiting`, the caller holding :attr:`busy`."""
        with self.lock:
            batch, self.waiting = self.waiting, []
            dropped, self.dropped = self.dropped, 0
        if dropped:
            log.warning(self.dropped_message, dropped)
        if not batch:
            return None
        try:
            return self._run(batch)
        finally:
            with self.done:
                self.unfinished -= len(batch)
                self.done.notify_all()

    def _run(self, batch: list[T]) -> int:
        with self.app.app_context():
            try:
                return self.job(batch)
            except Exception as exc:  # noqa: BLE001 - a worker outlives any one batch
                # The type only: a driver's message can carry the batch's values.
                log.warning("%s: a batch of %d failed (%s)", self.name, len(batch),
                            type(exc).__name__)
                return 0

    def flush(self) -> int:
        """Handle what is waiting now, in the caller's thread (after the batch
        being handled, if any); how many were handled."""
        self._this_process()
        return self._handle_waiting() or 0

    def drain(self, timeout: float = 10.0) -> bool:
        """Handle what is waiting and wait for the batch in hand (a process
        stopping, a test tearing down its database); False if ``timeout``
        seconds ran out first."""
        self._this_process()
        deadline = time.monotonic() + timeout
        if self.busy.acquire(timeout=timeout):
            try:
                self._handle_waiting_now()
            finally:
                self.busy.release()
        with self.done:
            return self.done.wait_for(lambda: self.unfinished <= 0,
                                      max(deadline - time.monotonic(), 0.0))


def _drain_at_exit(found: weakref.ref[Worker[Any]]) -> None:
    """A worker that stops (gunicorn's graceful restart) first handles what it
    took on: mail is not left "sending" until its claim runs out, page views are
    not lost."""
    worker = found()
    if worker is not None and worker.pid == os.getpid():
        worker.drain(worker.idle)
