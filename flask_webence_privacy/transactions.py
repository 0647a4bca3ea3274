"""Database faults: a dropped connection is retried once; a database that stays
away is said to the visitor, with their text kept.

A nightly restart or a failover ends every pooled connection; the first
request afterwards would meet a dead one. SQLAlchemy then invalidates the pool,
so one more try runs on a fresh connection. If that fails too, the database is
really unreachable: :class:`DatabaseUnavailable`, and the view answers 503 with
the form as the visitor filled it in. The work is one transaction, so nothing
is half-written either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from .state import State

log = logging.getLogger(__name__)
T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached (twice); nothing was stored."""


def _is_fault(exc: DBAPIError) -> bool:
    """A lost or refused connection (or a busy database), not a bad statement nor a
    table from an older version (SQLite reports those as operational errors too)."""
    if "no such table" in str(exc.orig) or "no such column" in str(exc.orig):
        return False
    return bool(exc.connection_invalidated) or isinstance(exc, (OperationalError, InterfaceError))


def retrying(state: State, work: Callable[[], T]) -> T:
    """Run ``work`` (one transaction that it commits); once more on a connection
    fault; :class:`DatabaseUnavailable` if the second try meets one too."""
    for attempt in (1, 2):
        try:
            return work()
        except DBAPIError as exc:
            try:
                state.db.session.rollback()
            except DBAPIError:
                state.db.session.close()  # the connection is gone; start clean
            if not _is_fault(exc):
                raise
            # The type only: a driver's message can carry the statement's values.
            log.warning("privacy: database fault (%s) on try %d", type(exc).__name__, attempt)
            if attempt == 2:
                raise DatabaseUnavailable(type(exc).__name__) from exc
    raise AssertionError("unreachable")  # pragma: no cover
