"""Shared by the benchmarks: interleaved rounds, medians of per-round ratios, and
the JSON line each benchmark prints.

A ratio compares the package with a baseline measured in the same process, in
alternating rounds (baseline, package, baseline, ...), so a noisy machine slows
both alike. ``ratio`` is the median of the per-round ratios, ``value`` and
``baseline`` the medians of the rounds themselves.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

RESULTS: list[Result] = []


@dataclass
class Result:
    name: str
    ratio: float
    baseline: float
    value: float
    unit: str
    db: str | None = None
    note: str | None = None

    def line(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None or k == "db"}
        for key in ("ratio", "baseline", "value"):
            data[key] = round(data[key], 4)
        return json.dumps(data)


def report(result: Result) -> Result:
    RESULTS.append(result)
    print("  " + result.line(), file=sys.stderr, flush=True)
    return result


def rate(work: Callable[[], object], count: int) -> float:
    """Operations per second over ``count`` calls."""
    started = time.perf_counter()
    for _ in range(count):
        work()
    return count / (time.perf_counter() - started)


def interleaved(name: str, baseline: Callable[[], object], package: Callable[[], object], *,
                count: int, rounds: int = 7, warmup: int = 20, unit: str = "req/s",
                db: str | None = None, note: str | None = None) -> Result:
    """Throughput of ``package`` against ``baseline``: ratio = package / baseline."""
    for _ in range(warmup):
        baseline()
        package()
    ratios, bases, values = [], [], []
    for _ in range(rounds):
        b = rate(baseline, count)
        v = rate(package, count)
        bases.append(b)
        values.append(v)
        ratios.append(v / b)
    return report(Result(name, statistics.median(ratios), statistics.median(bases),
                         statistics.median(values), unit, db, note))


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started
