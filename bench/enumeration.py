"""``answer_timing_<form>``: does a form's answer time tell a known address from
an unknown one? For each public form that may or may not mail (newsletter,
resend, request, contact): single posts for a known and an unknown address in
alternation, timed one by one; the line gives the median of each (``value``
known, ``baseline`` unknown, in ms) and ``ratio``, the 90th percentile of the
known answers over that of the unknown ones (1.0: the clock tells nothing).

Known means the answer that writes less: a confirmed subscriber (newsletter), a
pending one whose confirmation mails are capped or sent (resend), an address
with an open request (request), an address past its acknowledgement cap
(contact). Unknown is a new address each post, which writes and queues mail.
The apps are fresh: a worker that just started must answer alike (the floor is
a constant, not learnt).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from .common import Result, report
from .web import Database, package_app, token_of

_counter = itertools.count()


def _post(app: Flask, url: str) -> Callable[[dict[str, str]], float]:
    client = app.test_client()
    token = token_of(client, url)

    def post(fields: dict[str, str]) -> float:
        started = time.perf_counter()
        response = client.post(url, data={"csrf_token": token, **fields}, buffered=True)
        elapsed = time.perf_counter() - started
        assert response.status_code == 303, (url, response.status_code)
        return elapsed

    return post


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def _measure(name: str, kind: str, post: Callable[[dict[str, str]], float],
             known: Callable[[], dict[str, str]], unknown: Callable[[], dict[str, str]],
             samples: int, note: str) -> Result:
    known_times, unknown_times = [], []
    for _ in range(samples):
        known_times.append(post(known()))
        unknown_times.append(post(unknown()))
    return report(Result(
        name=f"answer_timing_{name}", ratio=_p90(known_times) / _p90(unknown_times),
        baseline=statistics.median(unknown_times) * 1000,
        value=statistics.median(known_times) * 1000, unit="ms (ratio: p90 known / p90 unknown)",
        db=kind, note=note))


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_counter)}@example.nl"


def forms(app: Flask, kind: str, samples: int) -> list[Result]:
    state = app.extensions["webence_privacy"]
    out = []
    newsletter = _post(app, "/privacy/newsletter")
    confirmed, pending = "known-reader@example.nl", "pending-reader@example.nl"
    newsletter({"email": confirmed, "consent": "y", "age_ok": "y"})
    newsletter({"email": pending, "consent": "y", "age_ok": "y"})
    with app.app_context():
        Subscriber = state.models.Subscriber
        state.db.session.execute(sa.update(Subscriber).where(Subscriber.email == confirmed)
                                 .values(status="confirmed"))
        state.db.session.commit()
    out.append(_measure(
        "newsletter", kind, newsletter,
        lambda: {"email": confirmed, "consent": "y", "age_ok": "y"},
        lambda: {"email": _fresh("reader"), "consent": "y", "age_ok": "y"}, samples,
        "confirmed address vs new address"))
    out.append(_measure(
        "resend", kind, _post(app, "/privacy/newsletter/resend"),
        lambda: {"email": pending}, lambda: {"email": _fresh("stranger")}, samples,
        "pending address vs unknown address"))
    request = _post(app, "/privacy/request")
    subject = "known-subject@example.nl"
    request({"email": subject, "kind": "access"})
    out.append(_measure(
        "request", kind, request, lambda: {"email": subject, "kind": "access"},
        lambda: {"email": _fresh("subject"), "kind": "access"}, samples,
        "address with an open request vs new address"))

    def message(email: str) -> dict[str, str]:
        return {"purpose": "quote", "name": "Bezoeker", "email": email, "age_ok": "y",
                "message": "Wat kost een nieuwe website met een webwinkel?"}

    contact = _post(app, "/privacy/contact")
    for _ in range(6):
        contact(message("often@example.nl"))  # past its acknowledgement cap
    out.append(_measure(
        "contact", kind, contact, lambda: message("often@example.nl"),
        lambda: message(_fresh("visitor")), samples,
        "address past its acknowledgement cap vs new address"))
    return out


def run(kinds: list[str], postgres_url: str | None, quick: bool = False) -> list[Result]:
    samples = 60 if quick else 200
    out: list[Result] = []
    for kind in kinds:
        database = Database(kind, postgres_url)
        try:
            config: dict[str, Any] = {**database.config("timing"),
                                      "PRIVACY_MAIL_DISPATCH": "sender",
                                      "PRIVACY_MAILBOX_DAILY_LIMIT": 1_000_000}
            app = package_app(config)
            out += forms(app, kind, samples)
        finally:
            database.close()
    return out



