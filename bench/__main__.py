"""``make bench``: every benchmark, then one JSON object per line.

    python -m bench                      # everything (1,000,000 rows for the purge)
    python -m bench --quick              # fewer rounds and 100,000 rows: a smoke run
    python -m bench --only pages,floor   # some of: web, pages, floor, timing, purge, scaling,
                                         # visits_scaling

PostgreSQL comes from TEST_POSTGRES_URL (the Makefile sets it); without a server
the PostgreSQL lines are left out and said so.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, enumeration, floor, purge, scaling, visits, web  # noqa: E402


def _postgres() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        return None
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
        return url
    except Exception as exc:  # noqa: BLE001 - no server: say so, measure the rest
        print(f"bench: PostgreSQL at {url} does not answer ({type(exc).__name__}); "
              "its lines are left out", file=sys.stderr)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only",
                        default="web,pages,floor,timing,purge,scaling,visits_scaling")
    parser.add_argument("--rows", type=int, default=None, help="rows for the purge")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # start-up advice (memory limiter) is not news here
    wanted = set(args.only.split(","))
    postgres = _postgres()
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    if "web" in wanted:
        print("web: the forms against the bare stack", file=sys.stderr)
        web.run(kinds, postgres, quick=args.quick)
    if "pages" in wanted:
        print("pages: the privacy page and a host's page with the banner, against the bare "
              "stack", file=sys.stderr)
        web.pages(quick=args.quick)
    if "floor" in wanted:
        print("floor: only what the contract requires, against the same bare stack, and the "
              "package against it", file=sys.stderr)
        floor.run(kinds, postgres, quick=args.quick)
    if "timing" in wanted:
        print("timing: each form's answer time for a known and an unknown address",
              file=sys.stderr)
        enumeration.run(kinds, postgres, quick=args.quick)
    if "purge" in wanted:
        print(f"purge: {rows:,} rows against a plain DELETE", file=sys.stderr)
        purge.run(kinds, postgres, rows, rounds=3 if args.quick else 5)
    if "scaling" in wanted:
        print("scaling: export and erasure at 1,000,000 vs 10,000 rows", file=sys.stderr)
        scaling.run((1_000, 100_000) if args.quick else (10_000, 1_000_000),
                    rounds=5 if args.quick else 7)
    if "visits_scaling" in wanted:
        print("visits_scaling: the visits page at 1,000,000 vs 10,000 logged visits",
              file=sys.stderr)
        visits.run((1_000, 100_000) if args.quick else (10_000, 1_000_000),
                   rounds=5 if args.quick else 7)
    print()
    for result in common.RESULTS:
        print(result.line())


main()
