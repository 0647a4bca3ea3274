"""Leaving the request path.

A view commits its rows and their mail in one transaction and answers; the
mail goes after the response (the app's background sender in this process,
several mails over one connection), to the site's task queue
(``PRIVACY_MAIL_DISPATCH``), or only through ``flask privacy send-mail
--watch``. Every answer takes the same path whatever the address, so its time
tells nothing about the address. Where the database's one connection serves
every thread (SQLite in memory), the sender runs in the request's own thread
once its answer is made, one batch at a time (:mod:`..worker`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

from flask import Flask, Response, current_app, g, has_request_context

from ..state import State, get_state
from ..worker import Worker, one_connection
from .delivery import send

log = logging.getLogger(__name__)

#: The app's background sender on its state (``State.workers``).
JOB = "mail"
_PENDING = "_webence_privacy_mail"


def _send_batch(ids: list[int]) -> int:
    """The background sender's job: one batch, in the app's context."""
    state = get_state()
    try:
        return send(state, ids)["sent"]
    except Exception as exc:  # noqa: BLE001 - the rows stay queued for send-mail
        log.warning("privacy mail: background sending failed (%s); "
                    "flask privacy send-mail will deliver", type(exc).__name__)
        return 0


def worker(app: Flask) -> Worker[int]:
    """The app's background sender in this process (``drain()`` before a stop)."""
    return cast(Worker[int], get_state(app).workers[JOB])


def dispatch(state: State, ids: Iterable[int | None]) -> None:
    """Hand committed outbox rows to delivery, never sending inside a request."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return
    how = state.settings.mail_dispatch
    if callable(how):
        how(wanted)  # the site's task queue; the outbox stays the record
    elif how == "sender":
        return  # `flask privacy send-mail --watch` (or cron) delivers
    elif has_request_context():
        pending: list[int] = g.setdefault(_PENDING, [])
        pending.extend(wanted)
    else:
        send(state, wanted)  # a command or a shell: nobody waits for an answer


def _after_response(response: Response) -> Response:
    """Hand the request's committed mail to the background sender as the answer
    leaves: the sender is a thread, so the visitor never waits for SMTP. Not on
    the response's close: a server may close it late (Werkzeug's, when the
    browser follows a 303 at once), and mail would wait on an unrelated socket."""
    ids: list[int] | None = g.pop(_PENDING, None)
    if ids:
        worker(current_app._get_current_object()).submit(ids)  # type: ignore[attr-defined]
    return response


def init_app(app: Flask) -> None:
    """Give the app its background sender, and hand it each request's mail."""
    state = get_state(app)
    db = state.db
    state.workers[JOB] = Worker(app, "privacy-mail", _send_batch,
                                inline=lambda: one_connection(db))
    app.after_request(_after_response)
