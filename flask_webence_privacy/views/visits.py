"""The maintainer's visit analysis: ``/privacy/admin/visits``, behind
``PRIVACY_ADMIN_CHECK`` like the other maintainer's pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from .. import labels, visits
from ..state import State, get_state
from .admin import admin_only
from .common import private, render

CHART_WIDTH, CHART_HEIGHT = 640, 240
#: The periods the page offers (``?days=``); anything else shows the default.
PERIODS = (7, 30, 90)


def init_views(bp: Blueprint, state: State) -> None:
    bp.add_url_rule("/admin/visits", "admin_visits", admin_visits)


@private
@admin_only
def admin_visits() -> Any:
    state = get_state()
    if not state.settings.visit_log:
        return render("admin_visits.html", summary=None)
    asked = request.args.get("days", "")
    days = int(asked) if asked.isdigit() and int(asked) in PERIODS else visits.DEFAULT_DAYS
    summary = visits.summary(state, days)
    previous = summary.previous
    return render(
        "admin_visits.html", summary=summary, days=days, periods=PERIODS,
        chart=visits.chart(summary.days, CHART_WIDTH, CHART_HEIGHT),
        date_labels={d.day: labels.day_short(d.day) for d in summary.days},
        views_change=visits.change(summary.views, previous.views if previous else 0),
        visitors_change=visits.change(summary.visitors, previous.visitors if previous else 0),
        busy_days=[d for d in reversed(summary.days) if d.views or d.automated])
