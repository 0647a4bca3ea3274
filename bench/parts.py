"""Where a contact POST's time goes: the request path's parts, timed in-process
against the bare stack's whole POST (the same apps as ``contact_post``, no mail
sender running, so only the request is measured).

    python -m bench.parts [--posts 500] [--db sqlite|postgresql]

Not a benchmark with a goal: a map for the next optimisation. Each part is
timed by wrapping the function that does it, so the parts add up to less than
the whole (the form, Flask and the test client are the rest).
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy.engine.default as sa_default  # noqa: E402

import flask_webence_privacy.consent as consent  # noqa: E402
import flask_webence_privacy.contact as contact  # noqa: E402
import flask_webence_privacy.mail as mail  # noqa: E402
import flask_webence_privacy.views.contact as contact_views  # noqa: E402
from bench import web  # noqa: E402
from bench.common import rate  # noqa: E402

SPENT: collections.Counter[str] = collections.Counter()


def _timed(module: Any, name: str, label: str) -> None:
    wrapped: Callable[..., Any] = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return wrapped(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - started

    setattr(module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                        help="PostgreSQL comes from TEST_POSTGRES_URL")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    for module, name, label in [
        (contact, "submit", "contact.submit (all of the below and the commit)"),
        (mail, "within_daily_cap", "acknowledgement cap (limiter storage)"),
        (mail, "outbox_rows", "two mails' rows (values frozen)"),
        (consent, "new_record", "consent proof's row"),
        (contact, "insert_all", "the four INSERTs (one statement on PostgreSQL)"),
        (contact.address, "canonical", "address checks (form and submit)"),
        (contact, "consent_wording", "consent wording"),
        (contact_views, "ContactForm", "form set-up"),
    ]:
        _timed(module, name, label)
    commit = sa_default.DefaultDialect.do_commit

    def timed_commit(self: Any, connection: Any) -> None:
        started = time.perf_counter()
        commit(self, connection)
        SPENT["COMMIT"] += time.perf_counter() - started

    sa_default.DefaultDialect.do_commit = timed_commit  # type: ignore[method-assign]
    database = web.Database(args.db, os.environ.get("TEST_POSTGRES_URL"))
    try:
        bare = web.poster(web.bare_app(database.config("bare")), "/contact", web.contact_fields)
        package = web.poster(web.package_app({**database.config("package"),
                                              "PRIVACY_MAIL_DISPATCH": "sender"}),
                             "/privacy/contact", web.contact_fields)
        for _ in range(50):
            bare()
            package()
        SPENT.clear()
        bare_ms = 1000 / rate(bare, args.posts)
        bare_commit = SPENT.pop("COMMIT", 0.0) / args.posts * 1000
        SPENT.clear()
        package_ms = 1000 / rate(package, args.posts)
    finally:
        database.close()
    print(f"bare POST     {bare_ms:6.3f} ms  (its COMMIT {bare_commit:.3f} ms)")
    print(f"package POST  {package_ms:6.3f} ms  (ratio {bare_ms / package_ms:.2f})")
    for label, seconds in SPENT.most_common():
        print(f"  {seconds / args.posts * 1000:6.3f} ms  {label}")


main()
