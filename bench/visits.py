"""How the visit analysis page grows with the log: the time to render
``/privacy/admin/visits`` with 1,000,000 logged visits over the time with 10,000,
spread over the retention year. Finished days are read from the daily roll-ups
(made once, by a first render that is not timed), today's finished hours from
hourly roll-ups, and only the current hour and today's unique visitors are
aggregated from the log, in SQL on the ``created_at`` index; so the ratio stays
near 1 at any time of day."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy
from flask_webence_privacy.models import utcnow

from .common import Result, report, timed

PATHS = ["/", "/diensten", "/privacy/", "/privacy/contact", "/privacy/newsletter",
         "/privacy/request", "/over-ons", "/blog/<slug>"]
REFERRERS = [None, None, None, "www.google.com", "duckduckgo.com", "news.example", "www.bing.com"]
BROWSERS = ["Chrome", "Chrome", "Firefox", "Safari", "Edge", "other"]


def build(url: str) -> tuple[Flask, SQLAlchemy]:
    app = Flask("visits")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench", TESTING=True,
                      PRIVACY_CONTROLLER_NAME="Bench", PRIVACY_CONTACT_EMAIL="bench@example.nl",
                      PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: True)
    db = SQLAlchemy(app)
    Privacy().init_app(app, db=db)
    return app, db


def fill(app: Flask, db: SQLAlchemy, rows: int, now: dt.datetime) -> None:
    """``rows`` visits at even intervals over the year before ``now``."""
    table = app.extensions["webence_privacy"].models.VisitLog.__table__
    pick = random.Random(rows)
    span = 365 * 24 * 3600
    with db.engine.begin() as conn:
        for start in range(0, rows, 20_000):
            conn.execute(sa.insert(table), [{
                "path": pick.choice(PATHS), "ip": f"192.0.{i % 250}.0",
                "browser": pick.choice(BROWSERS), "referrer": pick.choice(REFERRERS),
                "visitor": f"{pick.getrandbits(64):016x}",
                "created_at": now - dt.timedelta(seconds=span * (rows - i) / rows),
            } for i in range(start, min(start + 20_000, rows))])


def run(sizes: tuple[int, int] = (10_000, 1_000_000), rounds: int = 7) -> list[Result]:
    now = utcnow()
    with tempfile.TemporaryDirectory() as tmp:
        apps = []
        for size in sizes:
            app, db = build(f"sqlite:///{tmp}/visits{size}.db")
            with app.app_context():
                db.create_all()
                fill(app, db, size, now)
            client = app.test_client()
            # The first render makes the roll-ups of the finished days (once).
            assert client.get("/privacy/admin/visits").status_code == 200
            apps.append((app, db, client))

        def render(client: object) -> None:
            response = client.get("/privacy/admin/visits")  # type: ignore[attr-defined]
            assert response.status_code == 200

        small, large = [], []
        for _ in range(rounds):
            for (_, _, client), times in zip(apps, (small, large), strict=True):
                times.append(timed(lambda c=client: render(c)))
        ratios = [b / a for a, b in zip(small, large, strict=True)]
        result = report(Result(
            "visits_scaling", statistics.median(ratios), statistics.median(small),
            statistics.median(large), "s", "sqlite",
            f"render of /privacy/admin/visits at {sizes[1]:,} vs {sizes[0]:,} logged visits "
            "over a year; daily and hourly roll-ups, the current hour in SQL on the "
            "created_at index; goal <= 1.5"))
        for app, db, _ in apps:
            with app.app_context():
                db.engine.dispose()
        return [result]
