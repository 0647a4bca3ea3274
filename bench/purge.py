"""Purge benchmark: ``privacy.purge()`` against a plain SQL DELETE of the same rows.

Two identical tables of N rows (default 1,000,000), half of them past their
1-year period, in one database. One is purged by the package (batches of
primary keys, one transaction each, hold checks), the other by a single
``DELETE ... WHERE created_at < cutoff``. Both timings come from the same run, so
the ratio is what the batching and the hold checks cost. Peak Python memory of
the purge is measured with tracemalloc: it stays flat because no rows are
loaded into Python.

    python -m bench                 # 1,000,000 rows on SQLite in a temp dir
    python bench/purge.py --rows 100000
    python -m bench --database postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_webence_privacy import Privacy  # noqa: E402

NOW = dt.datetime(2026, 11, 25, 12, 0)


def build(database: str, batch_size: int) -> tuple[Flask, SQLAlchemy, Privacy, type, type]:
    app = Flask("bench")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database, SECRET_KEY="bench", PRIVACY_CONTROLLER_NAME="Bench",
        PRIVACY_CONTACT_EMAIL="bench@example.nl", PRIVACY_PURGE_BATCH_SIZE=batch_size,
    )
    db = SQLAlchemy()
    privacy = Privacy()
    db.init_app(app)

    class Purged(db.Model):
        __tablename__ = "bench_purged"
        id = db.Column(db.Integer, primary_key=True)
        email = db.Column(db.String(254), index=True)
        note = db.Column(db.String(100))
        created_at = db.Column(db.DateTime, index=True)

    class Plain(db.Model):
        __tablename__ = "bench_plain"
        id = db.Column(db.Integer, primary_key=True)
        email = db.Column(db.String(254), index=True)
        note = db.Column(db.String(100))
        created_at = db.Column(db.DateTime, index=True)

    privacy.register(Purged, category="default")
    privacy.init_app(app, db=db)
    return app, db, privacy, Purged, Plain


def fill(db: SQLAlchemy, model: type, rows: int) -> None:
    """Half the rows expired, interleaved (odd ids old, even ids recent)."""
    old, recent = NOW - dt.timedelta(days=800), NOW - dt.timedelta(days=30)
    chunk = 20_000
    with db.engine.begin() as conn:
        for start in range(0, rows, chunk):
            conn.execute(sa.insert(model.__table__), [
                {"email": f"user{i % 50_000}@example.nl", "note": "x" * 40,
                 "created_at": old if i % 2 else recent}
                for i in range(start, min(start + chunk, rows))
            ])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app, db, privacy, Purged, Plain = build(database, args.batch_size)
        with app.app_context():
            db.drop_all()
            db.create_all()
            started = time.perf_counter()
            fill(db, Purged, args.rows)
            fill(db, Plain, args.rows)
            print(f"filled 2 x {args.rows:,} rows in {time.perf_counter() - started:.1f}s",
                  file=sys.stderr)
            cutoff = app.extensions["webence_privacy"].settings.category("default").cutoff(NOW)

            tracemalloc.start()
            started = time.perf_counter()
            report = privacy.purge(now=NOW)
            purge_seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            started = time.perf_counter()
            with db.engine.begin() as conn:
                plain_count = conn.execute(
                    sa.delete(Plain.__table__).where(Plain.created_at < cutoff)).rowcount
            plain_seconds = time.perf_counter() - started

            purged = report.count("Purged")
            assert purged == plain_count == args.rows // 2, (purged, plain_count)
            result = {
                "database": db.engine.dialect.name,
                "rows": args.rows,
                "removed": purged,
                "batch_size": args.batch_size,
                "purge_seconds": round(purge_seconds, 3),
                "plain_delete_seconds": round(plain_seconds, 3),
                "ratio": round(purge_seconds / plain_seconds, 2),
                "purge_peak_python_mib": round(peak / 2**20, 2),
                "process_max_rss_mib": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
            db.drop_all()
            db.engine.dispose()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
