"""The maintainer's visit analysis: ``/privacy/admin/visits``, behind
``PRIVACY_ADMIN_CHECK`` like the other maintainer's pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .. import visits
from ..state import State, get_state
from .admin import admin_only
from .common import private, render

CHART_WIDTH, CHART_HEIGHT = 600, 160


def init_views(bp: Blueprint, state: State) -> None:
    bp.add_url_rule("/admin/visits", "admin_visits", admin_visits)


@private
@admin_only
def admin_visits() -> Any:
    state = get_state()
    if not state.settings.visit_log:
        return render("admin_visits.html", summary=None)
    summary = visits.summary(state)
    bars = visits.chart(summary.days, CHART_WIDTH, CHART_HEIGHT)
    return render("admin_visits.html", summary=summary, bars=bars, width=CHART_WIDTH,
                  height=CHART_HEIGHT, peak=max((d.views for d in summary.days), default=0))
