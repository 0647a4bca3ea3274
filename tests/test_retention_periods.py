"""Retention categories read as a person reads a calendar."""

from __future__ import annotations

import datetime as dt

from flask_webence_privacy.config import parse_retention


def test_defaults_match_the_seed_policy():
    categories = parse_retention({"default": {"years": 1},
                                  "customer": {"years": 7, "erasable": False}})
    assert categories["default"].erasable is True
    assert categories["customer"].erasable is False
    now = dt.datetime(2026, 11, 25, 12, 0)
    assert categories["default"].cutoff(now) == dt.datetime(2025, 11, 25, 12, 0)
    assert categories["customer"].cutoff(now) == dt.datetime(2019, 11, 25, 12, 0)


def test_calendar_arithmetic_on_29_february():
    year = parse_retention({"default": {"years": 1}})["default"]
    # A row stamped on a leap day expires on 28 February of the next year.
    assert year.expires(dt.datetime(2024, 2, 29)) == dt.datetime(2025, 2, 28)
    assert year.cutoff(dt.datetime(2025, 2, 28)) == dt.datetime(2024, 2, 28)


def test_months_and_days_combine():
    category = parse_retention({"default": {"months": 1, "days": 2}})["default"]
    assert category.expires(dt.datetime(2026, 1, 31)) == dt.datetime(2026, 3, 2)
