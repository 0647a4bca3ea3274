"""How export and erasure grow with the table: the time to export (or erase) one
subject with 1,000,000 other rows in a host table, over the time with 10,000.
With the README's index on ``lower(email)`` the ratio stays near 1."""

from __future__ import annotations

import statistics
import tempfile

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy

from .common import Result, report, timed

SUBJECT = "Scaling.Subject@Example.nl"


def build(url: str) -> tuple[Flask, SQLAlchemy, Privacy, sa.Table]:
    app = Flask("scaling")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench", TESTING=True,
                      PRIVACY_CONTROLLER_NAME="Bench", PRIVACY_CONTACT_EMAIL="bench@example.nl")
    db = SQLAlchemy(app)
    table = sa.Table("host_customer", db.metadata,
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("email", sa.String(254)),
                     sa.Column("name", sa.String(100)),
                     sa.Column("created_at", sa.DateTime, server_default=sa.func.now()))
    sa.Index("ix_host_customer_email_lower", sa.func.lower(table.c.email))
    privacy = Privacy()
    privacy.register(type("Customer", (db.Model,), {"__table__": table}))
    privacy.init_app(app, db=db)
    return app, db, privacy, table


def fill(db: SQLAlchemy, table: sa.Table, rows: int) -> None:
    with db.engine.begin() as conn:
        for start in range(0, rows, 20_000):
            conn.execute(sa.insert(table), [
                {"email": f"Other{i}@Example.nl", "name": "x"}
                for i in range(start, min(start + 20_000, rows))])


def run(sizes: tuple[int, int] = (10_000, 1_000_000), rounds: int = 7) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        apps = []
        for size in sizes:
            app, db, privacy, table = build(f"sqlite:///{tmp}/scale{size}.db")
            with app.app_context():
                db.create_all()
                fill(db, table, size)
            apps.append((app, db, privacy, table))

        def seed(app: Flask, db: SQLAlchemy, table: sa.Table) -> None:
            with app.app_context(), db.engine.begin() as conn:
                conn.execute(sa.insert(table), [{"email": SUBJECT, "name": "Subject"}] * 3)

        out = []
        for name, action in (("export_scaling", "export_subject"),
                             ("erase_scaling", "erase_subject")):
            small, large = [], []
            for _ in range(rounds):
                for (app, db, privacy, table), times in zip(apps, (small, large), strict=True):
                    seed(app, db, table)
                    with app.app_context():
                        times.append(timed(lambda p=privacy, a=action: getattr(p, a)(SUBJECT.lower())))
            ratios = [b / a for a, b in zip(small, large, strict=True)]
            out.append(report(Result(
                name, statistics.median(ratios), statistics.median(small),
                statistics.median(large), "s", "sqlite",
                f"one subject among {sizes[1]:,} vs {sizes[0]:,} host rows, "
                "index on lower(email)")))
        for app, db, _, _ in apps:
            with app.app_context():
                db.engine.dispose()
        return out
