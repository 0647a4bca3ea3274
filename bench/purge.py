"""Purge benchmark: ``privacy.purge()`` against one plain SQL ``DELETE`` of the
same rows, in interleaved rounds in one process.

Two identical tables of N rows (default 1,000,000), half past their 1-year
period, interleaved. Each round copies a prepared template into both tables
(``INSERT ... SELECT``), then times the plain ``DELETE ... WHERE created_at <
cutoff`` and the package's purge (batches of key ranges, one transaction each),
alternating which goes first. The ratio is the median of the per-round ratios.
Peak Python memory of the purge is measured in a separate pass (tracemalloc
slows what it watches), at 100,000 and at N rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import tracemalloc
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy

from .common import Result, report, timed

NOW = dt.datetime(2026, 11, 25, 12, 0)


def _config(kind: str, tmp: str, postgres_url: str | None, schema: str | None) -> dict:
    if kind == "sqlite":
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/purge.db"}
    return {"SQLALCHEMY_DATABASE_URI": postgres_url, "SQLALCHEMY_ENGINE_OPTIONS": {
        "connect_args": {"options": f"-csearch_path={schema}"}}}


def build(config: dict) -> tuple[Flask, SQLAlchemy, Privacy, dict[str, sa.Table]]:
    app = Flask("bench")
    app.config.update(
        SECRET_KEY="bench", TESTING=True, PRIVACY_CONTROLLER_NAME="Bench",
        PRIVACY_CONTACT_EMAIL="bench@example.nl", **config)
    db = SQLAlchemy()
    privacy = Privacy()
    db.init_app(app)
    tables = {}
    for name in ("bench_template", "bench_purged", "bench_plain"):
        tables[name] = sa.Table(
            name, db.metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("email", sa.String(254)),
            sa.Column("note", sa.String(100)),
            sa.Column("created_at", sa.DateTime, index=True),
            sa.Index(f"ix_{name}_email_lower", sa.func.lower(sa.column("email"))),
        )
    Purged = type("Purged", (db.Model,), {"__table__": tables["bench_purged"]})
    privacy.register(Purged, category="default")
    privacy.init_app(app, db=db)
    return app, db, privacy, tables


def fill_template(db: SQLAlchemy, table: sa.Table, rows: int) -> None:
    """Half the rows expired, interleaved (odd ids old, even ids recent), each
    with its own second, as rows written over time have."""
    old, recent = NOW - dt.timedelta(days=800), NOW - dt.timedelta(days=30)
    chunk = 20_000
    with db.engine.begin() as conn:
        conn.execute(sa.delete(table))
        for start in range(0, rows, chunk):
            conn.execute(sa.insert(table), [
                {"id": i + 1, "email": f"user{i % 50_000}@example.nl", "note": "x" * 40,
                 "created_at": (old if i % 2 else recent) + dt.timedelta(seconds=i)}
                for i in range(start, min(start + chunk, rows))])


def copy(db: SQLAlchemy, source: sa.Table, target: sa.Table) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.delete(target))
        conn.execute(sa.insert(target).from_select(list(source.c.keys()), sa.select(source)))
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"VACUUM ANALYZE {target.name}"))


def run(kinds: list[str], postgres_url: str | None, rows: int, rounds: int = 5) -> list[Result]:
    out: list[Result] = []
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            schema = None
            admin = None
            if kind == "postgresql":
                schema = f"bench_{uuid.uuid4().hex[:10]}"
                admin = sa.create_engine(postgres_url)
                with admin.begin() as conn:
                    conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            try:
                out += _one(kind, _config(kind, tmp, postgres_url, schema), rows, rounds)
            finally:
                if admin is not None:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
    return out


def _one(kind: str, config: dict, rows: int, rounds: int) -> list[Result]:
    app, db, privacy, tables = build(config)
    template, purged_table, plain = (tables["bench_template"], tables["bench_purged"],
                                      tables["bench_plain"])
    out = []
    with app.app_context():
        db.create_all()
        cutoff = app.extensions["webence_privacy"].settings.category("default").cutoff(NOW)
        fill_template(db, template, rows)

        def plain_delete() -> int:
            with db.engine.begin() as conn:
                return int(conn.execute(sa.delete(plain).where(plain.c.created_at < cutoff))
                           .rowcount)

        ratios, bases, values = [], [], []
        for index in range(rounds):
            copy(db, template, purged_table)
            copy(db, template, plain)
            results: dict[str, float] = {}
            order = ("plain", "purge") if index % 2 == 0 else ("purge", "plain")
            for which in order:
                if which == "plain":
                    results["plain"] = timed(plain_delete)
                else:
                    results["purge"] = timed(lambda: privacy.purge(now=NOW))
            removed = db.session.scalar(sa.select(sa.func.count()).select_from(purged_table))
            assert removed == rows - rows // 2, removed
            bases.append(results["plain"])
            values.append(results["purge"])
            ratios.append(results["purge"] / results["plain"])
            print(f"    purge round {index + 1}: {results['purge']:.2f} s vs "
                  f"{results['plain']:.2f} s", file=sys.stderr, flush=True)
        out.append(report(Result("purge", statistics.median(ratios), statistics.median(bases),
                                 statistics.median(values), "s", kind,
                                 f"{rows:,} rows, half expired; plain DELETE as baseline")))
        # Memory, in its own pass: tracemalloc would slow the timed rounds.
        for size in sorted({min(100_000, rows), rows}):
            fill_template(db, template, size)
            copy(db, template, purged_table)
            tracemalloc.start()
            privacy.purge(now=NOW)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out.append(report(Result("purge_peak_memory", 1.0, 0.0, peak / 2**20, "MiB", kind,
                                     f"peak Python memory of the purge at {size:,} rows")))
        db.drop_all()
        db.session.remove()
        db.engine.dispose()
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    run(["sqlite"], None, int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
